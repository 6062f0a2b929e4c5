#!/bin/sh
# Generate configure and the Makefile.in files from a git checkout.
set -e
cd "$(dirname "$0")"
mkdir -p build-aux
autoreconf -fi
# automake does not install its TAP driver on its own; the tests use it.
cp -f "$(automake --print-libdir)/tap-driver.sh" build-aux/tap-driver.sh
