// The sender node's delivery pass, as pure rules (docs/PROTOCOL.md
// "Delivery, retention and failure"). The node's worker
// (sender-node/delivery_worker.cc) does the storage and the NotifyStream; the
// simulator (sim/pull_world.cc) calls the same rules on its modelled network.
// The retry schedule itself is outbox.h; retryable-or-permanent is
// status_class.h. Pure; thread-safe.
//
// One pass: take up to kDuePerPass due deliveries, grouped per recipient
// domain. For each group:
//   1. a delivery whose message has expired bounces without an attempt
//      (ExpiredInQueue: DEADLINE_EXCEEDED "expired in queue" -> 4.4.7);
//   2. the domain is routed (routing.h); a routing failure answers every
//      delivery with RouteFailureCode (unknown domain 5.1.1, no route 5.7.0,
//      a directory outage is retried);
//   3. at most StreamLimitsFor(route).max_per_stream deliveries go on one
//      stream with its deadline (a relayed domain: 5 per stream, 60 s, since
//      each answer waits for an SMTP dialogue; the rest wait for the next
//      pass);
//   4. each answer goes through outbox.h's AfterNotifyResult; deliveries the
//      stream left unanswered get UnansweredCode(stream status): a broken
//      stream is transport trouble, retried, even when its code is one that
//      would be permanent as an answer (e.g. our TLS refused);
//   5. a bounce goes to the sender unless ShouldBounce says no (never bounce
//      a bounce, never answer SMTP's null reverse path).
// Messages past expiry also have their still-queued deliveries bounced at
// once (QueuedAtExpiry) and their bodies dropped.
#ifndef PULLMAIL_CORE_LOGIC_DELIVERY_PASS_H_
#define PULLMAIL_CORE_LOGIC_DELIVERY_PASS_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/logic/outbox.h"
#include "core/logic/routing.h"
#include "core/storage/types.h"

namespace pullmail {

// Due deliveries taken per pass.
inline constexpr size_t kDuePerPass = 500;

// How long a pass woken by newly queued mail waits before it starts, so
// that mail queued together (an MX's concurrent SMTP-in sessions, a
// campaign, a Submit to many users) goes to each domain on one stream under
// one batch signature rather than a pass, a stream, a signature and a
// recipient commit per handful. Measured (smtpin_bench, smtp-source -s 10):
// woken at once, ~9 notifications per pass and signature, recipient CPU
// ~190 us per notification; 5 ms, ~20 and ~120 us; 20 ms, ~45 and ~80 us.
// What it costs is this much latency per delivery, far below a mail
// reader's notice. A pass that finds work still due runs at once.
inline constexpr absl::Duration kPassGather = absl::Milliseconds(10);

struct StreamLimits {
  size_t max_per_stream = kDuePerPass;
  absl::Duration deadline = absl::Seconds(15);
};
// A relayed (legacy) domain's answers come from the gateway only after an
// SMTP dialogue per message: few per stream, a longer deadline. The worker
// is one thread, so this is also how long a slow smarthost can hold up every
// other domain in one pass. A notification cut off by the deadline is
// retried; if the smarthost had already taken it, it goes twice.
StreamLimits StreamLimitsFor(const Route& route);

// The answer recorded for a delivery whose message expired before it could
// be attempted: (DEADLINE_EXCEEDED, "expired in queue"), which outbox.h
// turns into a 4.4.7 bounce.
inline constexpr std::string_view kExpiredInQueue = "expired in queue";
int ExpiredInQueueCode();
// True when a due delivery of a message expiring at `expires` must bounce
// without an attempt.
bool ExpiredInQueue(absl::Time expires, absl::Time now);
// True for a delivery that is still queued when its message expires: it is
// bounced at once (the sender hears at expiry, not at the next due time).
bool QueuedAtExpiry(const Delivery& d);

// The answer recorded for every delivery of a domain that cannot be routed
// (routing.h): FAILED_PRECONDITION (no relay or no endpoint: 5.7.0),
// NOT_FOUND (unknown domain: 5.1.1), UNAVAILABLE for a directory that could
// not answer (retried), any other code as is.
int RouteFailureCode(const absl::Status& route_error);

// The answer recorded for a delivery that a stream left unanswered, given
// how the stream ended: OK (the peer closed early) and every permanent code
// -> UNAVAILABLE; a retryable code as is.
int UnansweredCode(const absl::Status& stream_status);

// Applies an outbox step to the delivery record (state, next attempt, last
// error). `error` is the attempt's error text.
void ApplyOutboxStep(const OutboxStep& step, std::string_view error, Delivery& d);

// The address bounces come from: mailer-daemon@<local domain>.
std::string MailerDaemon(std::string_view local_domain);
// Whether a bounce is sent to `sender` at all: never to the mailer-daemon
// itself (never bounce a bounce) and never to SMTP's null reverse path
// (bridged mail with MAIL FROM:<>, RFC 5321 4.5.5).
bool ShouldBounce(std::string_view sender, std::string_view local_domain);

}  // namespace pullmail

#endif  // PULLMAIL_CORE_LOGIC_DELIVERY_PASS_H_
