#!/bin/sh
# ovnkube-db.sh: the entrypoint of the ovnkube-db StatefulSet's containers.
#
#   ovnkube-db.sh nb|sb       run this host's member of the NB or SB cluster
#   ovnkube-db.sh northd      run ovn-northd against every member
#   ovnkube-db.sh ready nb|sb exit 0 once this member has joined its cluster
#
# The members are the hosts of nb-address / sb-address in the one
# configuration file, the list every client uses. The member on the first
# listed host creates the cluster; the others join it there. RAFT runs on
# the client port + 2 (6643 for NB, 6644 for SB), over ssl: with the same
# certificate. Clients and members are served on this host's address only.
set -eu

CONFIG=${CONFIG:-/etc/ovnkube/config/ovnkube.yaml}
PKI=${PKI:-/etc/ovn/pki}
RUN=${RUN:-/var/run/ovn}
DATA=${DATA:-/var/lib/ovn}

OVNKUBE=${OVNKUBE:-/usr/bin/ovnkube}

setting() { "$OVNKUBE" config get "$1" --config "$CONFIG"; }

# host ADDRESS: the host of ssl:HOST:PORT, brackets kept for IPv6.
host() { h=${1#*:}; echo "${h%:*}"; }

db_vars() {
	case $1 in
	nb) NAME=OVN_Northbound SCHEMA=/usr/share/ovn/ovn-nb.ovsschema PORT=6641 RAFT=6643 ;;
	sb) NAME=OVN_Southbound SCHEMA=/usr/share/ovn/ovn-sb.ovsschema PORT=6642 RAFT=6644 ;;
	*) echo "ovnkube-db.sh: unknown database $1 (nb or sb)" >&2; exit 2 ;;
	esac
	FILE=$DATA/ovn${1}_db.db
	CTL=$RUN/ovn${1}_db.ctl
}

member() {
	db_vars "$1"
	addresses=$(setting "$1-address")
	seed=$(host "${addresses%%,*}")
	self=$HOST_IP
	case $self in *:*) self="[$self]" ;; esac
	if [ ! -e "$FILE" ]; then
		if [ "$self" = "$seed" ]; then
			ovsdb-tool create-cluster "$FILE" "$SCHEMA" "ssl:$self:$RAFT"
		else
			ovsdb-tool join-cluster "$FILE" "$NAME" "ssl:$self:$RAFT" "ssl:$seed:$RAFT"
		fi
	fi
	exec ovsdb-server "$FILE" \
		--remote="pssl:$PORT:$self" --remote="punix:$RUN/ovn${1}_db.sock" \
		--private-key="$PKI/$1.key" --certificate="$PKI/$1.crt" --ca-cert="$PKI/ca.crt" \
		--unixctl="$CTL" --pidfile="$RUN/ovn${1}_db.pid" \
		--no-chdir -vconsole:info -vfile:off
}

case ${1:-} in
nb | sb) member "$1" ;;
northd)
	exec ovn-northd --no-chdir -vconsole:info -vfile:off \
		--ovnnb-db="$(setting nb-address)" --ovnsb-db="$(setting sb-address)" \
		--private-key="$PKI/nb.key" --certificate="$PKI/nb.crt" --ca-cert="$PKI/ca.crt" \
		--unixctl="$RUN/ovn-northd.ctl" --pidfile="$RUN/ovn-northd.pid"
	;;
ready)
	db_vars "$2"
	ovs-appctl -t "$CTL" cluster/status "$NAME" | grep -q "Status: cluster member"
	;;
*)
	echo "usage: ovnkube-db.sh nb|sb|northd|ready nb|sb" >&2
	exit 2
	;;
esac
