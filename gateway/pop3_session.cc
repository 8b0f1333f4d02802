// PLACEHOLDER, replaced by the pop3 session: refuses every connection.
#include "gateway/sessions.h"

namespace pullmail::gateway {

void ServePop3(Conn& conn, const SessionEnv&) { (void)conn.Write("-ERR [SYS/PERM] POP3 is not built yet\r\n"); }

}  // namespace pullmail::gateway
