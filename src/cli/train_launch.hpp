#pragma once
// `twin train` started without mpirun on a machine with several cores runs itself again under
// mpirun on every core (training is data-parallel over ranks), so that nobody has to know mpirun
// to train in minutes. `--ranks N` (or TWIN_TRAIN_RANKS) chooses; 1 keeps one process.

namespace twin::cli {

/// Call before MPI starts. Returns only when it did not re-launch (not `train`, already under
/// a launcher, one core, or no mpirun to be found).
void train_on_every_core(int argc, char** argv);

}  // namespace twin::cli
