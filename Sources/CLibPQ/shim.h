/* PostgreSQL's C client (Debian: libpq-dev). Only KaroKarPostgres imports this module. */
#include <postgresql/libpq-fe.h>
