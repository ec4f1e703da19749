"""Tests for explorer.gui.history: undo steps, merging, redo, the playhead left alone."""

from dataclasses import replace

import pytest

from explorer.gui.history import LIMIT, UndoHistory, what_changed
from explorer.session import Keyframe, Session


def test_what_changed_names_fields_and_sliders_but_not_the_playhead():
    s = Session(sliders={"age": 1.0})
    assert what_changed(s, replace(s, morph_t=0.5)) == ""
    assert what_changed(s, replace(s, sliders={"age": 2.0, "smile": 1.0})) == "sliders.age|sliders.smile"
    assert what_changed(s, replace(s, seed=3, psi=0.5)) == "seed|psi"
    assert what_changed(s, s.with_keyframe(0, Keyframe.from_seed(4))) == "keyframes"


def test_dragging_one_slider_is_one_step_and_another_slider_a_new_one():
    history = UndoHistory()
    s0 = Session()
    s1 = replace(s0, sliders={"age": 0.5})
    s2 = replace(s0, sliders={"age": 1.0})
    s3 = replace(s0, sliders={"age": 1.0, "smile": -1.0})
    for before, after in [(s0, s1), (s1, s2), (s2, s3)]:
        history.record(before, after)
    assert history.undo(s3) == s2
    assert history.undo(s2) == s0 and not history.can_undo()
    assert history.redo(s0) == s2 and history.redo(s2) == s3 and not history.can_redo()


def test_loading_then_refining_a_photo_are_two_steps():
    history = UndoHistory()
    s0 = Session()
    s1 = s0.with_keyframe(0, Keyframe(label="a.png", photo="a.png", ws=[[0.0]]))
    s2 = s0.with_keyframe(0, Keyframe(label="a.png", photo="a.png", ws=[[1.0]]))
    history.record(s0, s1)
    history.record(s1, s2)
    assert history.undo(s2) == s1 and history.undo(s1) == s0


def test_undo_keeps_the_playhead_and_a_new_change_drops_the_redo_steps():
    history = UndoHistory()
    s0 = Session(morph_t=0.2)
    s1 = replace(s0, seed=5)
    history.record(s0, s1)
    history.record(s1, replace(s1, morph_t=0.9))                 # scrubbing is not a step
    back = history.undo(replace(s1, morph_t=0.9))
    assert back == replace(s0, morph_t=0.9) and history.can_redo()
    history.record(back, replace(back, seed=6))                  # after an undo, a seed change is a new step
    assert not history.can_redo() and history.undo(replace(back, seed=6)) == back
    with pytest.raises(IndexError):
        history.undo(back)


def test_the_oldest_steps_go_past_the_limit():
    history = UndoHistory()
    current = Session()
    for i in range(LIMIT + 10):                                   # seed, ψ, seed, …: each a step of its own
        after = replace(current, seed=i + 1) if i % 2 == 0 else replace(current, psi=0.5 + i / 1000)
        history.record(current, after)
        current = after
    steps = 0
    while history.can_undo():
        current = history.undo(current)
        steps += 1
    assert steps == LIMIT and (current.seed, current.psi) == (9, 0.509)   # the first ten changes are gone
