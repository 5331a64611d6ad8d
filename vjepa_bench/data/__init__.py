"""Trajectory data: the HDF5 store (``store``), real DROID trajectories (``droid``), video decoding (``video``),
clip sampling (``clips``) and image preprocessing (``transforms``) for AC training. It imports no env and no agent;
recording sim episodes into the store is ``vjepa_bench.collection``."""
