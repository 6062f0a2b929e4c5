# Shared by scripts/run and scripts/test: install what is missing, then
# generate, configure and build in a build directory.  Sourced, not run.

TERN_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Debian packages the build and the tests need.
TERN_PACKAGES="build-essential autoconf automake pkg-config python3 \
libev-dev libssl-dev libpcre2-dev libxml2-dev libmicrohttpd-dev \
libopendkim-dev libc-ares-dev libcrypt-dev swaks dnsmasq-base postfix"

tern_install_deps() {
	local missing="" p
	for p in $TERN_PACKAGES "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "==> installing:$missing"
	if [ "$(id -u)" != 0 ]; then
		echo "missing Debian packages:$missing (run as root, or install them)" >&2
		return 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	# postfix is there for its smtp-source load client (b31): installed
	# unconfigured, so no Postfix daemon starts or takes port 25
	echo "postfix postfix/main_mailer_type select No configuration" |
	    debconf-set-selections 2>/dev/null || true
	apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# tern_build DIR [configure options...]: configure (once) and build.
tern_build() {
	local dir="$1"; shift
	(cd "$TERN_TOP" && { [ -x configure ] && [ -f build-aux/tap-driver.sh ] &&
	    [ configure -nt configure.ac ] || ./autogen.sh >/dev/null 2>&1; }) || return 1
	mkdir -p "$TERN_TOP/$dir"
	(cd "$TERN_TOP/$dir" &&
	    { [ -f Makefile ] && [ config.status -nt ../configure ] ||
	      ../configure -q "$@"; } &&
	    make -j"$(nproc)" >/dev/null) || return 1
}
