#!/usr/bin/env bash
# Enter one test "host" of the multi-host test bed (tests/multihost/mh.py):
# its network namespace, its own hostname (UTS namespace) and its own view of
# the data folder (mount namespace), as a node of a cluster would have.
#
#   mhhost.sh enter ADDRESS CMD [ARG...]   run CMD on the host with ADDRESS
#   mhhost.sh rsh [OPTIONS] ADDRESS WORD...  Open MPI's plm_rsh_agent: like
#                                          ssh, runs the words as one shell
#                                          command line on that host
#
# The hosts are listed in the file named by DNN_MH_MAP, one line each:
#   ADDRESS NAMESPACE HOSTNAME DATA_DIR MOUNT_POINT
# DATA_DIR (this host's own files) is bind-mounted over MOUNT_POINT (the same
# path on every host), so a path can exist on one host and not on another.
# An ADDRESS that is not in the map is tried the way ssh would, by a TCP
# connection to port 22 from inside the first host's namespace (it can only
# reach addresses of the test subnet), and fails like ssh (exit 255).
set -u
map=${DNN_MH_MAP:?mhhost.sh: DNN_MH_MAP is not set}
self=$(readlink -f -- "${BASH_SOURCE[0]}")

lookup() { # ADDRESS -> "NS HOST DIR MNT", or nothing
  awk -v a="$1" '$1 == a { print $2, $3, $4, $5; exit }' "$map"
}

case "${1:-}" in
  enter)
    shift
    read -r ns host dir mnt <<<"$(lookup "$1")"
    [[ -n "${ns:-}" ]] || { echo "mhhost.sh: no host $1 in $map" >&2; exit 255; }
    shift
    exec ip netns exec "$ns" unshare --uts --mount --propagation private "$self" inside "$host" "$dir" "$mnt" "$@"
    ;;
  inside)
    # in the host's namespaces: its name and its files, then the command
    hostname "$2" || exit 255
    mount --bind "$3" "$4" || { echo "mhhost.sh: cannot bind $3 over $4 on $2" >&2; exit 255; }
    shift 4
    exec "$@"
    ;;
  rsh)
    shift
    # skip ssh-style options (Open MPI passes -x; take an argument for -l etc.)
    while [[ $# -gt 0 && "$1" == -* ]]; do
      case "$1" in
        -l|-p|-o|-i|-F) shift 2 ;;
        *) shift ;;
      esac
    done
    addr=${1:?mhhost.sh rsh: no host}
    shift
    read -r ns _ <<<"$(lookup "$addr")"
    if [[ -z "${ns:-}" ]]; then
      first=$(awk 'NF { print $2; exit }' "$map")
      err=$(ip netns exec "$first" timeout 10 bash -c "exec 3<>/dev/tcp/$addr/22" 2>&1)
      case $? in
        0) err="no dnn test host there (port 22 answered)" ;;
        124) err="Connection timed out" ;;
        *) err=${err##*connect: }; err=${err%%$'\n'*} ;;
      esac
      echo "ssh: connect to host $addr port 22: $err" >&2
      exit 255
    fi
    exec "$self" enter "$addr" sh -c "$*"
    ;;
  *)
    echo "mhhost.sh: args: $*" >&2
    sed -n '2,10p' "$self" >&2
    exit 2
    ;;
esac
