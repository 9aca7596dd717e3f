"""Robot tasks on LeWM-layout HDF5: ``koch_pick_place`` (real recordings) and ``arm_sim``.

Submodules: ``split`` (episode split), ``loader`` (HDF5 reads, DataLoader support), ``windows``
(window sets), ``task`` (the shared task object), ``koch`` (data resolution and the
``koch_pick_place`` factory), ``arm_sim`` (the offline simulator and its task).
"""
