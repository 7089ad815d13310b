/* PostgreSQL's C client (Debian: libpq-dev), and the Linux readiness calls its non-blocking
   driver waits with (epoll, eventfd). Only KaroKarPostgres imports this module. */
#include <postgresql/libpq-fe.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
