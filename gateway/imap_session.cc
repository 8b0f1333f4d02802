// PLACEHOLDER, replaced by the imap session: refuses every connection.
#include "gateway/sessions.h"

namespace pullmail::gateway {

void ServeImap(Conn& conn, const SessionEnv&) { (void)conn.Write("* BYE [UNAVAILABLE] IMAP is not built yet\r\n"); }

}  // namespace pullmail::gateway
