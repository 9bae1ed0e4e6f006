// mailctl queue list|show|retry|remove: the outbound queue (DATA/queue, storage/queue): mail
// XTND XMIT accepted for remote recipients, waiting for the relay to hand it to the smarthost.
// Works on the files directly, daemon running or not; retry and remove take the entry's lock,
// so an entry the relay is delivering right now is never changed under it.
#include <algorithm>
#include <array>
#include <cctype>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "admin-cli/commands.h"
#include "storage/queue/bounce_message.h"
#include "storage/queue/outbound_queue.h"

namespace mailroom::cli {

namespace {

using storage::OutboundQueue;
using storage::QueueEntry;

// The header fields `queue show` prints (never the body).
constexpr std::array<std::pair<std::string_view, std::string_view>, 5> kShownHeaders = {{
    {"From", "from"}, {"To", "to"}, {"Subject", "subject"}, {"Date", "date"}, {"Message-ID", "message_id"}}};

// Opens the queue of the data directory (checked as every command checks it).
Result<OutboundQueue> open_queue(const Context& ctx) {
  auto store = ctx.open_store();  // a missing or uninitialised data directory: the usual error
  if (!store) return store.error();
  return OutboundQueue(ctx.data_dir() + "/queue");
}

Error busy(const std::string& id) {
  return make_error(ErrorCode::kInUse, "queued message " + id + " is being delivered right now; try again");
}

bool is_broken(const QueueEntry& e) { return e.recipients.empty(); }

std::size_t pending_count(const QueueEntry& e) {
  return static_cast<std::size_t>(std::count_if(e.recipients.begin(), e.recipients.end(), [](const auto& r) {
    return r.state == storage::RecipientState::kPending;
  }));
}

nlohmann::ordered_json entry_json(const QueueEntry& e) {
  nlohmann::ordered_json recipients = nlohmann::ordered_json::array();
  for (const auto& r : e.recipients) {
    recipients.push_back(
        {{"address", r.address}, {"state", storage::recipient_state_name(r.state)}, {"last_reply", r.last_reply}});
  }
  return {{"id", e.id},
          {"sender", e.sender},
          {"recipients", std::move(recipients)},
          {"size_bytes", e.size},
          {"queued_at", json_time(e.queued_at)},
          {"next_attempt_at", json_time(e.next_attempt_at)},  // null: as soon as possible
          {"last_attempt_at", json_time(e.last_attempt_at)},
          {"attempts", e.attempts},
          {"last_error", e.last_error},
          {"bounced", e.bounced}};
}

std::string next_attempt_text(const QueueEntry& e) {
  if (is_broken(e) || e.finished()) return "-";
  return e.next_attempt_at == 0 ? "now" : format_time(e.next_attempt_at);
}

// The value of header field `name` in `header` (CRLF lines, as bounce_header_excerpt gives it),
// continuation lines unfolded; "" when absent.
std::string header_field(std::string_view header, std::string_view name) {
  std::string value;
  bool in_field = false;
  for (std::size_t pos = 0; pos < header.size();) {
    std::size_t eol = header.find("\r\n", pos);
    if (eol == std::string_view::npos) eol = header.size();
    std::string_view line = header.substr(pos, eol - pos);
    pos = eol + 2;
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      if (in_field) value += " " + std::string(line.substr(line.find_first_not_of(" \t")));
      continue;
    }
    if (in_field) break;
    std::size_t colon = line.find(':');
    if (colon != name.size()) continue;
    bool same = std::equal(name.begin(), name.end(), line.begin(), [](char a, char b) {
      return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
    });
    if (!same) continue;
    in_field = true;
    std::string_view rest = line.substr(colon + 1);
    std::size_t start = rest.find_first_not_of(" \t");
    value = start == std::string_view::npos ? "" : std::string(rest.substr(start));
  }
  return value;
}

// The first <=16 KiB of the message's header ("" if the message cannot be read: the envelope
// is still worth showing).
std::string message_header(const OutboundQueue& queue, const QueueEntry& e, std::string& problem) {
  auto reader = queue.open_message(e, storage::WireMode::kPlain);
  if (!reader) {
    problem = reader.error().message;
    return "";
  }
  std::string start;
  while (start.size() < storage::kBounceHeaderExcerptBytes) {
    auto n = (*reader)->read(start, storage::kBounceHeaderExcerptBytes - start.size());
    if (!n) {
      problem = n.error().message;
      break;
    }
    if (*n == 0) break;
  }
  return storage::bounce_header_excerpt(start);
}

Status run_list(const Context& ctx) {
  auto queue = open_queue(ctx);
  if (!queue) return queue.error();
  auto entries = queue->list();
  if (!entries) return entries.error();
  if (ctx.json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& e : *entries) out.push_back(entry_json(e));
    print_json(out);
    return {};
  }
  if (entries->empty()) {
    print_line("queue is empty");
    return {};
  }
  std::vector<std::vector<std::string>> rows;
  uint64_t bytes = 0;
  for (const auto& e : *entries) {
    bytes += e.size;
    std::string recipients;
    if (is_broken(e)) {
      recipients = "broken envelope (see 'mailctl queue show " + e.id + "')";
    } else {
      recipients = std::to_string(pending_count(e)) + " of " + std::to_string(e.recipients.size()) + " pending";
      if (!e.last_error.empty()) recipients += ": " + e.last_error;
    }
    rows.push_back({escape_control(e.id), format_time(e.queued_at), std::to_string(e.size), std::to_string(e.attempts),
                    next_attempt_text(e), escape_control(e.sender.empty() ? "-" : e.sender),
                    escape_control(recipients)});
  }
  std::cout << format_table({"ID", "QUEUED", "SIZE", "ATTEMPTS", "NEXT", "SENDER", "RECIPIENTS"}, rows);
  std::cout << entries->size() << (entries->size() == 1 ? " message, " : " messages, ") << bytes << " bytes queued\n";
  return {};
}

Status run_show(const Context& ctx, const std::string& id) {
  auto queue = open_queue(ctx);
  if (!queue) return queue.error();
  auto entry = queue->get(id);
  if (!entry) return entry.error();
  std::string problem;
  const std::string header = message_header(*queue, *entry, problem);
  if (ctx.json) {
    nlohmann::ordered_json out = entry_json(*entry);
    nlohmann::ordered_json headers = nlohmann::ordered_json::object();
    for (const auto& [name, key] : kShownHeaders) {
      std::string v = header_field(header, name);
      headers[std::string(key)] = v.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(v);
    }
    out["headers"] = std::move(headers);
    out["message_error"] = problem.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(problem);
    print_json(out);
    return {};
  }
  const QueueEntry& e = *entry;
  std::cout << "id:            " << escape_control(e.id) << "\n"
            << "sender:        " << escape_control(e.sender) << "\n"
            << "size:          " << e.size << " bytes\n"
            << "queued:        " << format_time(e.queued_at) << "\n"
            << "attempts:      " << e.attempts << "\n"
            << "last attempt:  " << format_time(e.last_attempt_at) << "\n"
            << "next attempt:  " << next_attempt_text(e) << "\n"
            << "last error:    " << (e.last_error.empty() ? "-" : escape_control(e.last_error)) << "\n"
            << "bounced:       " << yes_no(e.bounced) << "\n"
            << "recipients:\n";
  for (const auto& r : e.recipients) {
    std::cout << "  " << escape_control(r.address) << "  " << storage::recipient_state_name(r.state);
    if (!r.last_reply.empty()) std::cout << "  " << escape_control(r.last_reply);
    std::cout << "\n";
  }
  std::cout << "message:\n";
  if (!problem.empty()) std::cout << "  (cannot read it: " << escape_control(problem) << ")\n";
  for (const auto& [name, key] : kShownHeaders) {
    std::string v = header_field(header, name);
    if (!v.empty()) std::cout << "  " << name << ": " << escape_control(v) << "\n";
  }
  return {};
}

// Sets next_attempt_at to 0 (as soon as possible) under the entry's lock.
Status retry_one(const OutboundQueue& queue, const std::string& id) {
  auto held = queue.lock(id);
  if (!held) return held.error().code == ErrorCode::kInUse ? busy(id) : held.error();
  auto entry = queue.get(id);
  if (!entry) return entry.error();
  entry->next_attempt_at = 0;
  return queue.update(*entry);
}

Status run_retry(const Context& ctx, const std::string& id, bool all) {
  if (all == !id.empty()) throw UsageError("queue retry needs an ID or --all (not both)");
  auto queue = open_queue(ctx);
  if (!queue) return queue.error();
  if (!all) {
    if (Status s = retry_one(*queue, id); !s) return s;
    ctx.done("queued message " + id + " will be tried again at the relay's next scan", {{"id", id}});
    return {};
  }
  auto entries = queue->list();
  if (!entries) return entries.error();
  nlohmann::ordered_json retried = nlohmann::ordered_json::array();
  nlohmann::ordered_json skipped = nlohmann::ordered_json::array();
  for (const auto& e : *entries) {
    if (is_broken(e) || e.finished()) continue;
    Status s = retry_one(*queue, e.id);
    if (s) {
      retried.push_back(e.id);
    } else if (s.error().code == ErrorCode::kInUse || s.error().code == ErrorCode::kNotFound) {
      skipped.push_back(e.id);  // being delivered, or delivered and gone meanwhile
    } else {
      return s;
    }
  }
  std::string message = std::to_string(retried.size()) + (retried.size() == 1 ? " message" : " messages") +
                        " will be tried again at the relay's next scan";
  if (!skipped.empty()) message += " (" + std::to_string(skipped.size()) + " being delivered right now, skipped)";
  ctx.done(message, {{"retried", std::move(retried)}, {"skipped", std::move(skipped)}});
  return {};
}

Status run_remove(const Context& ctx, const std::string& id) {
  auto queue = open_queue(ctx);
  if (!queue) return queue.error();
  auto held = queue->lock(id);
  if (!held) return held.error().code == ErrorCode::kInUse ? busy(id) : held.error();
  auto entry = queue->get(id);
  if (!entry && entry.error().code != ErrorCode::kIo) return entry.error();
  QueueEntry target;
  if (entry) {
    target = std::move(entry).value();
  } else {
    target.id = id;  // a broken envelope: removed by its id (its message file found by name)
  }
  if (Status s = queue->remove(target); !s) return s;
  ctx.done("removed queued message " + id + (entry ? " (" + std::to_string(target.size) + " bytes)" : ""),
           {{"id", id}, {"size_bytes", target.size}});
  return {};
}

}  // namespace

void add_queue_commands(CLI::App& app, Context& ctx) {
  CLI::App* group =
      app.add_subcommand("queue", "The outbound queue: mail waiting for the smarthost (XTND XMIT's remote recipients)");
  group->require_subcommand(1);

  CLI::App* list = group->add_subcommand("list", "List the queued messages, oldest first");
  list->callback([&ctx] { ctx.action = [&ctx] { return run_list(ctx); }; });

  auto show_id = std::make_shared<std::string>();
  CLI::App* show = group->add_subcommand(
      "show", "One queued message: envelope, each recipient's state and last reply, and its first header lines");
  show->add_option("ID", *show_id, "Queue id (see 'mailctl queue list')")->required();
  show->callback([&ctx, show_id] { ctx.action = [&ctx, show_id] { return run_show(ctx, *show_id); }; });

  auto retry_id = std::make_shared<std::string>();
  auto retry_all = std::make_shared<bool>(false);
  CLI::App* retry = group->add_subcommand("retry", "Try a queued message again at the relay's next scan");
  retry->add_option("ID", *retry_id, "Queue id");
  retry->add_flag("--all", *retry_all, "Every queued message with recipients still pending");
  retry->callback([&ctx, retry_id, retry_all] {
    ctx.action = [&ctx, retry_id, retry_all] { return run_retry(ctx, *retry_id, *retry_all); };
  });

  auto remove_id = std::make_shared<std::string>();
  CLI::App* remove = group->add_subcommand("remove", "Drop a queued message without sending it (no bounce)");
  remove->add_option("ID", *remove_id, "Queue id")->required();
  remove->callback([&ctx, remove_id] { ctx.action = [&ctx, remove_id] { return run_remove(ctx, *remove_id); }; });
}

}  // namespace mailroom::cli
