// Preemption signals. Slurm (and people) ask a job to stop with SIGTERM or SIGUSR1 (`scancel
// --signal=USR1`, `#SBATCH --signal=B:USR1@120`; mpirun forwards SIGUSR1 to every rank). The
// handler only records the signal; the train loop all-reduces the flag at every step boundary,
// so all ranks agree on the step at which they stop, save a checkpoint and exit 0 even when
// only one rank received it.
#pragma once

namespace clinfm {

// Installs the handlers for SIGTERM and SIGUSR1 (idempotent).
void install_preemption_handlers();
// The signal received since installation, 0 when none.
int preemption_signal();
// Forgets a received signal (tests).
void clear_preemption_signal();

}  // namespace clinfm
