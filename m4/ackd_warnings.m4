# SPDX-License-Identifier: MIT
# ACKD_WARNINGS(WERROR): add every warning flag the compiler accepts to
# WARN_CFLAGS, plus -Werror when WERROR is "yes". Flags are tried one by one
# so an older compiler simply gets fewer of them.
AC_DEFUN([ACKD_WARNINGS], [
	WARN_CFLAGS=
	for flag in -Wall -Wextra -Wshadow -Wmissing-prototypes \
	    -Wstrict-prototypes -Wmissing-declarations -Wpointer-arith \
	    -Wcast-qual -Wwrite-strings -Wformat=2 -Wundef -Wvla \
	    -Wnull-dereference -Wimplicit-fallthrough; do
		AX_ACKD_CHECK_CFLAG([$flag], [WARN_CFLAGS="$WARN_CFLAGS $flag"])
	done
	AS_IF([test "x$1" = xyes], [WARN_CFLAGS="$WARN_CFLAGS -Werror"])
	AC_SUBST([WARN_CFLAGS])
])

# AX_ACKD_CHECK_CFLAG(FLAG, IF-ACCEPTED): does the compiler take FLAG quietly?
AC_DEFUN([AX_ACKD_CHECK_CFLAG], [
	AS_VAR_PUSHDEF([cache], [ackd_cv_cflag_$1])
	AC_CACHE_CHECK([whether $CC accepts $1], [cache], [
		save_CFLAGS=$CFLAGS
		CFLAGS="$CFLAGS -Werror $1"
		AC_COMPILE_IFELSE([AC_LANG_PROGRAM([], [])],
			[AS_VAR_SET([cache], [yes])], [AS_VAR_SET([cache], [no])])
		CFLAGS=$save_CFLAGS])
	AS_VAR_IF([cache], [yes], [$2])
	AS_VAR_POPDEF([cache])
])
