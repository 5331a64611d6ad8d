"""Trajectory data: the HDF5 store (``store``), real DROID trajectories (``droid``), video decoding (``video``),
clip sampling (``clips``) and image preprocessing (``transforms``) for AC training, and sim data collection
(``collect``, ``policies``)."""
