"""``arm_sim``: an offline simulated arm doing pick-and-place (kinematics, scripted policy with
noise, numpy renderer), recorded as a LeRobot v3.0 dataset and converted to HDF5.

Importing this package registers the task as ``"arm_sim"``.
"""

from jepa_bench.data.robot.arm_sim.dataset import DATA_SEED, SIM_VERSION, ensure_sim_data
from jepa_bench.data.robot.arm_sim.task import SIZES, ArmSimTask, arm_sim

__all__ = ["DATA_SEED", "SIM_VERSION", "SIZES", "ArmSimTask", "arm_sim", "ensure_sim_data"]
