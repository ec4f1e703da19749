"""Undo and redo of the editor's sessions."""

from __future__ import annotations

from dataclasses import fields, replace

from explorer.session import Session

LIMIT = 200           # steps kept; the oldest go first
UNTRACKED = {"morph_t"}  # the playhead is where you look, not an edit
DRAGGED = {"seed", "psi", "windows"}  # with the sliders: changed by dragging or stepping, many changes at a time


def what_changed(before: Session, after: Session) -> str:
    """The edit between two sessions as a key: the names of the fields that differ (the
    playhead aside), and for ``sliders`` which sliders; "" when nothing tracked changed."""
    changed = []
    for f in fields(Session):
        if f.name in UNTRACKED or getattr(before, f.name) == getattr(after, f.name):
            continue
        if f.name == "sliders":
            names = set(before.sliders) | set(after.sliders)
            changed += [f"sliders.{n}" for n in sorted(names) if before.sliders.get(n) != after.sliders.get(n)]
        else:
            changed.append(f.name)
    return "|".join(changed)


class UndoHistory:
    """Sessions to go back and forth to. Each ``record`` of a change is one undo step, except
    that consecutive changes of the same dragged control (one direction slider, the seed, ψ,
    the layer timing) merge into one step. Undoing and redoing leave the playhead where it is.
    """

    def __init__(self) -> None:
        self._undo: list[Session] = []
        self._redo: list[Session] = []
        self._last = ""                       # what the newest step changed, to merge the next

    def record(self, before: Session, after: Session) -> None:
        """Note that the session went from ``before`` to ``after``; clears the redo steps."""
        change = what_changed(before, after)
        if not change:
            return
        dragged = all(part in DRAGGED or part.startswith("sliders.") for part in change.split("|"))
        if change != self._last or not dragged or not self._undo:
            self._undo = [*self._undo[-(LIMIT - 1):], before]
        self._last = change
        self._redo.clear()

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self, current: Session) -> Session:
        """The session before the newest step, at ``current``'s playhead.

        Raises:
            IndexError: nothing to undo.
        """
        return self._step(self._undo, self._redo, current)

    def redo(self, current: Session) -> Session:
        """The session the newest undo went back from, at ``current``'s playhead.

        Raises:
            IndexError: nothing to redo.
        """
        return self._step(self._redo, self._undo, current)

    def _step(self, source: list[Session], target: list[Session], current: Session) -> Session:
        """Take the newest session off ``source``, keeping ``current`` on ``target`` to return to."""
        session = source.pop()
        target.append(current)
        self._last = ""
        return replace(session, morph_t=current.morph_t)
