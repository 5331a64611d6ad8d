"""``vjepa-bench collect``: exploration policies run in the sim envs, recorded into the trajectory store.

It sits beside ``evaluation`` (both drive envs and agents), above ``data`` (the store, clips, DROID and video I/O),
so ``data`` imports neither envs nor agents.
"""
