// PLACEHOLDER, replaced by the submission session: refuses every connection.
#include "gateway/sessions.h"

namespace pullmail::gateway {

void ServeSubmission(Conn& conn, const SessionEnv&) { (void)conn.Write("554 5.3.3 submission is not built yet\r\n"); }

}  // namespace pullmail::gateway
