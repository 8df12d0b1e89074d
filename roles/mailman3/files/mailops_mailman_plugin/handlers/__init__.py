# SPDX-License-Identifier: GPL-3.0-or-later
# Mailman imports every module in this package, this file included (as
# "handlers.__init__"); it stays without __all__ so that it offers nothing.
