#!/usr/bin/env bash
# Multi-host training with plain mpirun (no Slurm): one rank per slot of a hostfile.
#
#   scripts/launch.sh --hostfile FILE --np N [options] -- CONFIG [section.key=value ...] [--resume auto]
#
# Options:
#   --hostfile FILE      Open MPI hostfile, one host per line: `NAME slots=RANKS` (required)
#   --np N               number of ranks (required); filled host by host, slot by slot
#   --threads T          LibTorch/OpenMP threads per rank (default: cores per host / ranks on the
#                        busiest host; also passed as run.threads=T)
#   --cores-per-host C   cores of each host (default: this machine's, `nproc --all`)
#   --oversubscribe      allow more ranks than slots (otherwise that is an error)
#   --dry-run            print the mpirun command line and stop
# Environment:
#   CLINFM               the clinfm binary (default: `clinfm` on PATH, else build/release/bin/clinfm)
#   MPIRUN               the mpirun to use (default: `mpirun` on PATH)
#   OMP_NUM_THREADS      overridden by the computed threads per rank
#   NCCL_*, CLINFM_*, UCX_*  forwarded to every rank when set (`-x NAME`)
# Ranks are not bound to cores (--bind-to none): clinfm runs T threads per rank, and Open MPI's
# default binding (one core per rank with 2 or fewer ranks) would squeeze them onto one core.
# Exit codes: clinfm's (0 success, also after a preemption checkpoint), 2 for a bad command line.
set -euo pipefail

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; }
die() {
  echo "launch.sh: error: $*" >&2
  echo "usage: scripts/launch.sh --hostfile FILE --np N [--threads T] -- CONFIG [key=value ...]" >&2
  exit 2
}
positive() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }

hostfile="" np="" threads="" cores="" oversubscribe=0 dry_run=0
while [ $# -gt 0 ]; do
  case $1 in
    --hostfile) [ $# -ge 2 ] || die "--hostfile needs a file"; hostfile=$2; shift 2 ;;
    --np) [ $# -ge 2 ] || die "--np needs a number"; np=$2; shift 2 ;;
    --threads) [ $# -ge 2 ] || die "--threads needs a number"; threads=$2; shift 2 ;;
    --cores-per-host) [ $# -ge 2 ] || die "--cores-per-host needs a number"; cores=$2; shift 2 ;;
    --oversubscribe) oversubscribe=1; shift ;;
    --dry-run) dry_run=1; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; break ;;
    *) die "unknown option '$1' (the clinfm arguments go after --)" ;;
  esac
done
[ -n "$hostfile" ] || die "--hostfile FILE is required (one line per host: NAME slots=RANKS)"
[ -f "$hostfile" ] || die "hostfile '$hostfile' does not exist"
[ -n "$np" ] || die "--np N is required"
positive "$np" || die "--np '$np' is not a positive integer"
[ -z "$threads" ] || positive "$threads" || die "--threads '$threads' is not a positive integer"
[ -z "$cores" ] || positive "$cores" || die "--cores-per-host '$cores' is not a positive integer"
[ $# -ge 1 ] || die "no config after --"
config=$1
[ -f "$config" ] || die "config '$config' does not exist (the first argument after -- is the YAML config)"

# Slots per host from the hostfile (comments and blank lines skipped; no slots= means 1).
slots=()
while read -r host rest; do
  [ -z "$host" ] || [ "${host:0:1}" = "#" ] && continue
  n=1
  [[ $rest =~ slots=([0-9]+) ]] && n=${BASH_REMATCH[1]}
  positive "$n" || die "$hostfile: host '$host' has slots=$n; give it at least 1"
  slots+=("$n")
done <"$hostfile"
[ ${#slots[@]} -gt 0 ] || die "hostfile '$hostfile' lists no host"
total=0
for n in "${slots[@]}"; do total=$((total + n)); done
if [ "$np" -gt "$total" ] && [ $oversubscribe = 0 ]; then
  die "--np $np is more than the $total slot(s) of $hostfile: add hosts or slots, or pass --oversubscribe"
fi

# Ranks on the busiest host, the way mpirun maps by slot (then round-robin when oversubscribed).
busiest=0 left=$np
for n in "${slots[@]}"; do
  take=$((left < n ? left : n))
  left=$((left - take))
  [ "$take" -gt "$busiest" ] && busiest=$take
done
if [ "$left" -gt 0 ]; then
  busiest=$((busiest + (left + ${#slots[@]} - 1) / ${#slots[@]}))
fi
cores=${cores:-$(nproc --all)}
thread_override=()
if [ -n "$threads" ]; then
  thread_override=(run.threads="$threads")
else
  threads=$((cores / busiest))
  [ "$threads" -ge 1 ] || threads=1
fi

clinfm=${CLINFM:-$(command -v clinfm || true)}
if [ -z "$clinfm" ]; then
  clinfm=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/release/bin/clinfm
fi
[ -x "$clinfm" ] || die "clinfm binary '$clinfm' not found: build it (scripts/test.sh) or set CLINFM=PATH"
mpirun=${MPIRUN:-mpirun}
command -v "$mpirun" >/dev/null || die "'$mpirun' not found: install OpenMPI (scripts/setup.sh) or set MPIRUN"

flags=(--hostfile "$hostfile" -np "$np" --bind-to none -x OMP_NUM_THREADS)
[ "$(id -u)" = 0 ] && flags+=(--allow-run-as-root)
[ $oversubscribe = 1 ] && flags+=(--oversubscribe)
for name in $(compgen -e | grep -E '^(NCCL_|CLINFM_|UCX_)' || true); do flags+=(-x "$name"); done

export OMP_NUM_THREADS=$threads
cmd=("$mpirun" "${flags[@]}" "$clinfm" train "$config" "${thread_override[@]}" "${@:2}")
echo "launch.sh: $np rank(s) on ${#slots[@]} host(s), at most $busiest per host, $threads thread(s) per rank" >&2
echo "launch.sh: OMP_NUM_THREADS=$threads ${cmd[*]}" >&2
[ $dry_run = 1 ] && exit 0
exec "${cmd[@]}"
