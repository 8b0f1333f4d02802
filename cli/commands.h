// The subcommands of `pullmail`, each a function from parsed arguments to an
// exit code (client.h lists the codes). main.cc holds the table that maps
// command words, options and help text to these functions.
#ifndef PULLMAIL_CLI_COMMANDS_H_
#define PULLMAIL_CLI_COMMANDS_H_

#include <string>
#include <vector>

#include "cli/args.h"

namespace pullmail::cli {

// Options shared by every command that talks to a node as a user.
std::vector<OptionSpec> ClientOptions();

int RunInit(const Args& args);
int RunUserAdd(const Args& args);
int RunUserList(const Args& args);
int RunSend(const Args& args);
int RunList(const Args& args);
int RunRead(const Args& args);
int RunFlag(const Args& args);
int RunMove(const Args& args);
int RunDelete(const Args& args);
int RunReport(const Args& args);
int RunRevoke(const Args& args);
int RunStatus(const Args& args);
int RunDemo(const Args& args);           // demo.cc
int RunDebugNotify(const Args& args);    // debug.cc (test support, hidden)
int RunDebugFetch(const Args& args);     // debug.cc (test support, hidden)
int RunDebugShareReport(const Args& args);  // debug.cc (test support, hidden)
int RunDebugRevoke(const Args& args);    // debug.cc (test support, hidden)

// The directory holding the running `pullmail` binary (from /proc/self/exe).
std::string SelfExeDir();

}  // namespace pullmail::cli

#endif  // PULLMAIL_CLI_COMMANDS_H_
