"""Quality metrics behind one registry (``explorer.metrics.registry``): FID, KID, precision/recall,
LPIPS, identity and PPL, computed the way the field computes them (see each module)."""
