dnl AX_TERN_PKG(VAR, PKG-SPEC, FALLBACK-LIB, FALLBACK-FUNC, DEBIAN-PACKAGE)
dnl Look the library up with pkg-config; where it ships without a .pc file
dnl (libev does) and FALLBACK-LIB is given, search for it directly.  A
dnl missing library stops configure with the Debian package to install.
AC_DEFUN([AX_TERN_PKG], [
  PKG_CHECK_MODULES([$1], [$2], [], [
    m4_ifval([$3], [
      AC_CHECK_LIB([$3], [$4], [$1_LIBS="-l$3"; $1_CFLAGS=""],
        [AC_MSG_ERROR([$2 not found: apt-get install $5])])
    ], [AC_MSG_ERROR([$2 not found: apt-get install $5])])
  ])
  AC_SUBST([$1_CFLAGS])
  AC_SUBST([$1_LIBS])
])

dnl AX_TERN_CHECK_CFLAG(FLAG, VAR, [IF-NOT])
dnl Append FLAG to VAR (and AC_SUBST it) when the compiler accepts it.
AC_DEFUN([AX_TERN_CHECK_CFLAG], [
  AC_MSG_CHECKING([whether $CC accepts $1])
  tern_save_CFLAGS="$CFLAGS"
  CFLAGS="$CFLAGS $1"
  AC_LINK_IFELSE([AC_LANG_PROGRAM([], [])],
    [AC_MSG_RESULT([yes]); $2="$$2 $1"],
    [AC_MSG_RESULT([no]); $3])
  CFLAGS="$tern_save_CFLAGS"
  AC_SUBST([$2])
])
