// rogue_peer: a hostile pullmail peer for the end-to-end tests
// (tests/e2e/test_hostile*.py). It speaks the real protocol (the generated
// gRPC stubs, real TLS with a listed domain's certificate) and does what a
// well-behaved node never would:
//
//   rogue_peer drip --config B/node.toml --listen HOST:PORT [--interval-ms N]
//                   [--total-size N] [--chunk-bytes N] [--finish 1]
//       Serves SenderService as B's sender node, but FetchBody sends one
//       byte ("x"; --chunk-bytes: that many) every N ms (default 1000) of a
//       body it announces as N bytes (default 1,000,000; announce that size
//       in the notification) and never finishes; with --finish 1 it stops
//       at the announced size and ends the call OK (a whole body of the
//       wrong bytes). Prints
//       "READY HOST:PORT", then one line per FetchBody call:
//       "START <n in flight> <message id>" and "END <n in flight> <message id>
//       <how it ended>", flushed at once.
//   rogue_peer liar --config B/node.toml --listen HOST:PORT [--no-batch 1]
//       Serves SenderService as B's sender node, FetchBody and FetchBodies,
//       with the body of message id ID always "From: rogue@b.example\r\n
//       Subject: ID\r\n\r\nbody of ID\r\n" (announce its size and SHA-256
//       in the notification), ignoring tokens, and lying by the id's prefix:
//         good-   the body, honestly;
//         swap-   another message's bytes of the same length (its "swap-"
//                 read as "paws-");
//         long-   the body and 5 bytes more;
//         order-  in FetchBodies a piece of the next body first; in
//                 FetchBody a chunk at offset 1;
//         hang-   nothing, and never ends (until cancelled).
//       Prints "READY HOST:PORT", then "BATCH <id> <id> ..." for every
//       FetchBodies call and "ALONE <id>" for every FetchBody call. With
//       --no-batch 1 it answers FetchBodies UNIMPLEMENTED (a node that
//       predates it) and prints "UNIMPLEMENTED <id> ..." instead.
//   rogue_peer flood --config B/node.toml --to-domain C --bytes N --calls K
//                    [--method notify|share-report]
//       Sends K concurrent calls, each one message of about N bytes (a
//       SignedNotification / SignedSpamReport with an N-byte payload that
//       no one signed), to the recipient node the directory lists for C.
//       Prints {"codes": {"RESOURCE_EXHAUSTED": K, ...}} on stdout.
//   rogue_peer hold --config B/node.toml --to-domain C --streams K
//                   [--seconds S]
//       Opens K NotifyStream calls at once on one connection and keeps them
//       open without sending, for S seconds (default 3) or until refused;
//       prints {"codes": {...}} with how each ended (OK = held to the end).
//
// Exit 0 unless the arguments are wrong or the config cannot be read.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/config/node_config.h"
#include "core/directory/toml_directory.h"
#include "pullmail/v1/pullmail.grpc.pb.h"
#include "rpc/grpc_status.h"
#include "rpc/tls.h"

namespace pullmail {
namespace {

std::map<std::string, std::string> ParseFlags(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k.rfind("--", 0) == 0) flags[k.substr(2)] = argv[i + 1];
  }
  return flags;
}

std::string CodeName(grpc::StatusCode c) {
  static const char* kNames[] = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT",
                                 "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
                                 "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
                                 "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
                                 "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
                                 "UNAUTHENTICATED"};
  int i = static_cast<int>(c);
  return i >= 0 && i <= 16 ? kNames[i] : absl::StrCat(i);
}

void PrintCodes(const std::map<std::string, int>& codes) {
  std::string out = "{\"codes\": {";
  bool first = true;
  for (const auto& [k, v] : codes) {
    absl::StrAppend(&out, first ? "" : ", ", "\"", k, "\": ", v);
    first = false;
  }
  std::cout << out << "}}" << std::endl;
}

class DripSender final : public v1::SenderService::Service {
 public:
  DripSender(int interval_ms, uint64_t total, uint64_t chunk, bool finish)
      : interval_ms_(interval_ms), total_(total), chunk_(chunk), finish_(finish) {}

  grpc::Status FetchBody(grpc::ServerContext* ctx, const v1::FetchRequest* req,
                         grpc::ServerWriter<v1::BodyChunk>* writer) override {
    Say("START", ++in_flight_, req->message_id(), "");
    std::string how = "cancelled";
    uint64_t offset = req->offset();
    while (!ctx->IsCancelled()) {
      if (finish_ && offset >= total_) {
        Say("END", --in_flight_, req->message_id(), "finished");
        return grpc::Status::OK;
      }
      v1::BodyChunk chunk;
      chunk.set_offset(offset);
      chunk.set_total_size(total_);  // promised; reached only with --finish
      const uint64_t n = finish_ ? std::min(chunk_, total_ - offset) : chunk_;
      chunk.set_data(std::string(n, 'x'));
      if (!writer->Write(chunk)) {
        how = "write_failed";
        break;
      }
      offset += n;
      if (interval_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms_));
    }
    Say("END", --in_flight_, req->message_id(), how);
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "drip");
  }

 private:
  void Say(const char* what, int n, const std::string& id, const std::string& how) {
    std::lock_guard<std::mutex> lock(mu_);
    std::cout << what << " " << n << " " << id << (how.empty() ? "" : " ") << how << std::endl;
  }
  const int interval_ms_;
  const uint64_t total_;
  const uint64_t chunk_;
  const bool finish_;
  std::atomic<int> in_flight_{0};
  std::mutex mu_;
};

// rogue_peer liar (see the head comment).
class LiarSender final : public v1::SenderService::Service {
 public:
  static std::string Body(const std::string& id) {
    return absl::StrCat("From: rogue@b.example\r\nSubject: ", id, "\r\n\r\nbody of ", id, "\r\n");
  }
  static bool Is(const std::string& id, const char* prefix) { return id.rfind(prefix, 0) == 0; }

  // The bytes sent for `id` (what the notification committed to: Body(id)).
  static std::string Sent(const std::string& id) {
    if (Is(id, "swap-")) return Body("paws-" + id.substr(5));
    if (Is(id, "long-")) return Body(id) + "EXTRA";
    return Body(id);
  }

  grpc::Status FetchBody(grpc::ServerContext* ctx, const v1::FetchRequest* req,
                         grpc::ServerWriter<v1::BodyChunk>* writer) override {
    const std::string& id = req->message_id();
    Say(absl::StrCat("ALONE ", id));
    if (Is(id, "hang-")) return Hang(ctx);
    v1::BodyChunk chunk;
    chunk.set_offset(Is(id, "order-") ? 1 : 0);
    chunk.set_total_size(Body(id).size());
    chunk.set_data(Sent(id));
    writer->Write(chunk);
    return grpc::Status::OK;
  }

  explicit LiarSender(bool batch) : batch_(batch) {}

  grpc::Status FetchBodies(grpc::ServerContext* ctx, const v1::FetchBodiesRequest* req,
                           grpc::ServerWriter<v1::FetchBodiesChunk>* writer) override {
    std::string line = batch_ ? "BATCH" : "UNIMPLEMENTED";
    for (const v1::FetchRequest& r : req->bodies()) absl::StrAppend(&line, " ", r.message_id());
    Say(line);
    if (!batch_) return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "");
    for (int i = 0; i < req->bodies_size(); ++i) {
      const std::string& id = req->bodies(i).message_id();
      if (Is(id, "hang-")) return Hang(ctx);
      v1::FetchBodiesChunk out;
      if (Is(id, "order-")) {
        const int next = i + 1 < req->bodies_size() ? i + 1 : i + 5;
        v1::BodyPiece* p = out.add_pieces();
        p->set_index(next);
        p->set_total_size(5);
        p->set_data("later");
        p->set_last(true);
      }
      v1::BodyPiece* p = out.add_pieces();
      p->set_index(i);
      p->set_total_size(Body(id).size());
      p->set_data(Sent(id));
      p->set_last(true);
      if (!writer->Write(out)) break;
    }
    return grpc::Status::OK;
  }

 private:
  static grpc::Status Hang(grpc::ServerContext* ctx) {
    while (!ctx->IsCancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "hung");
  }
  void Say(const std::string& line) {
    std::lock_guard<std::mutex> lock(mu_);
    std::cout << line << std::endl;
  }
  const bool batch_;
  std::mutex mu_;
};

int Serve(const NodeConfig& c, const std::map<std::string, std::string>& flags,
          grpc::Service* service) {
  auto it = flags.find("listen");
  if (it == flags.end()) return 1;
  auto creds = MakeServerCredentials(c.tls, it->second);
  if (!creds.ok()) {
    std::cerr << creds.status() << "\n";
    return 1;
  }
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(it->second, *creds, &port);
  builder.RegisterService(service);
  auto server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::cerr << "cannot listen on " << it->second << "\n";
    return 1;
  }
  std::cout << "READY " << it->second << std::endl;
  server->Wait();  // until killed
  return 0;
}

int Drip(const NodeConfig& c, const std::map<std::string, std::string>& flags) {
  auto it = flags.find("listen");
  if (it == flags.end()) return 1;
  int interval = flags.count("interval-ms") ? std::stoi(flags.at("interval-ms")) : 1000;
  auto creds = MakeServerCredentials(c.tls, it->second);
  if (!creds.ok()) {
    std::cerr << creds.status() << "\n";
    return 1;
  }
  uint64_t total = flags.count("total-size") ? std::stoull(flags.at("total-size")) : 1'000'000;
  uint64_t chunk = flags.count("chunk-bytes") ? std::stoull(flags.at("chunk-bytes")) : 1;
  bool finish = flags.count("finish") && flags.at("finish") == "1";
  DripSender service(interval, total, std::max<uint64_t>(chunk, 1), finish);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(it->second, *creds, &port);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::cerr << "cannot listen on " << it->second << "\n";
    return 1;
  }
  std::cout << "READY " << it->second << std::endl;
  server->Wait();  // until killed
  return 0;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> RecipientChannel(
    const NodeConfig& c, const std::map<std::string, std::string>& flags) {
  auto dir = LoadTomlDirectory(c.directory);
  if (!dir.ok()) return dir.status();
  std::string to = flags.count("to-domain") ? flags.at("to-domain") : "";
  auto entry = (*dir)->Lookup(to);
  if (!entry.ok()) return entry.status();
  return Dial(c.tls, entry->recipient_endpoint, to);
}

int Flood(const NodeConfig& c, const std::map<std::string, std::string>& flags) {
  auto channel = RecipientChannel(c, flags);
  if (!channel.ok()) {
    std::cerr << channel.status() << "\n";
    return 1;
  }
  const size_t bytes = std::stoull(flags.at("bytes"));
  const int calls = std::stoi(flags.at("calls"));
  const std::string method = flags.count("method") ? flags.at("method") : "notify";
  auto stub = v1::RecipientService::NewStub(*channel);
  std::mutex mu;
  std::map<std::string, int> codes;
  std::vector<std::thread> threads;
  for (int i = 0; i < calls; ++i) {
    threads.emplace_back([&] {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
      grpc::Status s;
      if (method == "share-report") {
        v1::SignedSpamReport r;
        r.set_payload(std::string(bytes, 'r'));
        r.set_signing_domain(c.domain);
        r.set_key_id(c.key_id);
        r.set_signature(std::string(64, 's'));
        v1::ReportResult out;
        s = stub->ShareReport(&ctx, r, &out);
      } else {
        v1::SignedNotification n;
        n.set_payload(std::string(bytes, 'n'));
        n.set_signing_domain(c.domain);
        n.set_key_id(c.key_id);
        n.set_signature(std::string(64, 's'));
        v1::NotifyResult out;
        s = stub->Notify(&ctx, n, &out);
      }
      std::lock_guard<std::mutex> lock(mu);
      ++codes[CodeName(s.error_code())];
    });
  }
  for (auto& t : threads) t.join();
  PrintCodes(codes);
  return 0;
}

int Hold(const NodeConfig& c, const std::map<std::string, std::string>& flags) {
  auto channel = RecipientChannel(c, flags);
  if (!channel.ok()) {
    std::cerr << channel.status() << "\n";
    return 1;
  }
  const int streams = std::stoi(flags.at("streams"));
  const int seconds = flags.count("seconds") ? std::stoi(flags.at("seconds")) : 3;
  auto stub = v1::RecipientService::NewStub(*channel);
  std::mutex mu;
  std::map<std::string, int> codes;
  std::vector<std::thread> threads;
  const auto until = std::chrono::system_clock::now() + std::chrono::seconds(seconds);
  for (int i = 0; i < streams; ++i) {
    threads.emplace_back([&] {
      grpc::ClientContext ctx;
      ctx.set_deadline(until);
      auto stream = stub->NotifyStream(&ctx);
      v1::NotifyResult r;
      // Nothing is sent: the stream only holds a slot. A refused stream
      // ends at once with its status; a held one at the deadline.
      while (stream->Read(&r)) {
      }
      grpc::Status s = stream->Finish();
      std::string name = s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
                             ? "OK"
                             : CodeName(s.error_code());
      std::lock_guard<std::mutex> lock(mu);
      ++codes[name];
    });
  }
  for (auto& t : threads) t.join();
  PrintCodes(codes);
  return 0;
}

}  // namespace
}  // namespace pullmail

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: rogue_peer drip|liar|flood|hold --config FILE ... (see the source)\n";
    return 1;
  }
  std::string mode = argv[1];
  auto flags = pullmail::ParseFlags(argc, argv);
  auto config = pullmail::LoadNodeConfig(flags.count("config") ? flags["config"] : "");
  if (!config.ok()) {
    std::cerr << config.status() << "\n";
    return 1;
  }
  if (mode == "drip") return pullmail::Drip(*config, flags);
  if (mode == "liar") {
    pullmail::LiarSender liar(!flags.count("no-batch"));
    return pullmail::Serve(*config, flags, &liar);
  }
  if (mode == "flood") return pullmail::Flood(*config, flags);
  if (mode == "hold") return pullmail::Hold(*config, flags);
  std::cerr << "unknown mode " << mode << "\n";
  return 1;
}
