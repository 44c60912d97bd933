#!/bin/sh
# One shard of a locallm job. The same file is the Slurm batch script and
# the command of the Kubernetes Indexed Job (deploy/kubernetes/job.yaml),
# so both run the same command line:
#
#   locallm COMMAND [ARGS...] [--threads T] --shard I/N --output $LOCALLM_OUT/shard-I.EXT
#
# COMMAND is generate (EXT jsonl), embed or hidden (EXT npy); ARGS are its
# flags (the model, the input, the settings, or --config for generate).
# I is the shard index, from $SLURM_ARRAY_TASK_ID or $JOB_COMPLETION_INDEX;
# N is $LOCALLM_SHARDS (the array size, or the Job's completions: it is
# given rather than read from Slurm, so that one task run again alone, with
# --array=3, still knows the count); T is $SLURM_CPUS_PER_TASK or
# $LOCALLM_THREADS when set. A shard that runs again, requeued by Slurm or
# restarted by Kubernetes, resumes its output: rows already there are kept
# and not run again.
#
# Environment:
#   LOCALLM_SHARDS  number of shards (required)
#   LOCALLM_OUT     directory of the shard outputs (required; created)
#   LOCALLM         the locallm command (default: locallm on PATH)
#
# Slurm, 8 shards, then a merge once every task has succeeded:
#   export LOCALLM_SHARDS=8 LOCALLM_OUT=out
#   jobid=$(sbatch --parsable --array=0-7 deploy/locallm-shard.sh generate --config job.yaml)
#   sbatch --dependency=afterok:$jobid --kill-on-invalid-dep=yes \
#       --wrap "locallm merge -o out.jsonl --input prompts.jsonl out/shard-*.jsonl"
#
#SBATCH --job-name=locallm
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=locallm-%A_%a.log
#SBATCH --cpus-per-task=16
#SBATCH --mem=32G
#SBATCH --time=12:00:00
set -eu

me=locallm-shard.sh
index=${SLURM_ARRAY_TASK_ID:-${JOB_COMPLETION_INDEX:-}}
if [ -z "$index" ]; then
	echo "$me: no shard index: run it as a Slurm array task or in a Kubernetes Indexed Job" >&2
	exit 2
fi
if [ -z "${LOCALLM_SHARDS:-}" ] || [ -z "${LOCALLM_OUT:-}" ]; then
	echo "$me: set LOCALLM_SHARDS (the number of shards) and LOCALLM_OUT (the output directory)" >&2
	exit 2
fi
if [ $# -lt 1 ]; then
	echo "$me: usage: $me generate|embed|hidden [FLAGS...]" >&2
	exit 2
fi
command=$1
shift
case $command in
generate) ext=jsonl ;;
embed | hidden) ext=npy ;;
*)
	echo "$me: unknown command $command: want generate, embed or hidden" >&2
	exit 2
	;;
esac
threads=${SLURM_CPUS_PER_TASK:-${LOCALLM_THREADS:-}}
mkdir -p "$LOCALLM_OUT"
echo "$me: shard $index/$LOCALLM_SHARDS on $(hostname), run ${SLURM_RESTART_COUNT:-0}, output $LOCALLM_OUT/shard-$index.$ext" >&2
# The thread count comes before the given flags, so that a --threads among
# them wins; the shard and the output come after, so that they are this
# script's.
exec "${LOCALLM:-locallm}" "$command" ${threads:+--threads "$threads"} "$@" \
	--shard "$index/$LOCALLM_SHARDS" --output "$LOCALLM_OUT/shard-$index.$ext"
