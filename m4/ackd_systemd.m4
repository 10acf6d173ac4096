# SPDX-License-Identifier: MIT
# ACKD_SYSTEMD_DIR(VAR, PKG-CONFIG-VARIABLE, FALLBACK, HELP): the directory
# `make install` puts one kind of systemd file in (units, sysusers.d,
# tmpfiles.d), as --with-VAR=DIR, or --without-VAR (or =no) for none.
# Unset, it is systemd.pc's own PKG-CONFIG-VARIABLE when pkg-config knows
# systemd (so the files land where this host's systemd reads them), else
# FALLBACK, a path under ${prefix} that systemd also reads (/usr/local/lib
# for the default prefix). AC_SUBSTs VAR, and sets the conditional
# HAVE_VAR for Makefile.am.
AC_DEFUN([ACKD_SYSTEMD_DIR], [
	AC_ARG_WITH([$1], [AS_HELP_STRING([--with-$1=DIR], [$4])],
	    [], [with_$1=default])
	AS_CASE([$with_$1],
	    [yes|default],
		[with_$1=
		 AS_IF([test -n "$PKG_CONFIG"],
		    [with_$1=`$PKG_CONFIG --variable=$2 systemd 2>/dev/null`])
		 AS_IF([test -z "$with_$1"], [with_$1='$3'])],
	    [no], [],
	    [/*], [],
	    [AC_MSG_ERROR([--with-$1=$with_$1: an absolute directory, or no])])
	AC_MSG_CHECKING([where to install $2])
	AC_MSG_RESULT([$with_$1])
	AS_IF([test "x$with_$1" != xno], [AC_SUBST([$1], [$with_$1])])
	AM_CONDITIONAL(m4_toupper([HAVE_$1]), [test "x$with_$1" != xno])
])
