// The outbound queue's envelope and ids (see queue_envelope.h): pure string work, no disk.
#include "storage/queue/queue_envelope.h"

#include <algorithm>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "storage/maildir/fs_util.h"
#include "storage/maildir/maildir_name.h"
#include "storage/maildir/message_files.h"

namespace mailroom::storage {

namespace {

using maildir::join;

constexpr int kEnvelopeVersion = 1;

bool id_char_ok(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '_' ||
         c == '-';
}

const char* kStateNames[] = {"pending", "delivered", "failed"};

std::optional<RecipientState> state_from_name(std::string_view name) {
  for (int i = 0; i < 3; ++i) {
    if (name == kStateNames[i]) return static_cast<RecipientState>(i);
  }
  return std::nullopt;
}

std::string cut(std::string_view text) {
  return std::string(text.substr(0, kMaxQueueReplyOctets));
}

}  // namespace

const char* recipient_state_name(RecipientState state) { return kStateNames[static_cast<int>(state)]; }

bool QueueEntry::finished() const {
  // An entry with no recipients is a broken envelope list() reported: never "finished", so nobody
  // removes it as done; the administrator decides (mailctl queue remove).
  if (recipients.empty()) return false;
  return std::none_of(recipients.begin(), recipients.end(),
                      [](const QueuedRecipient& r) { return r.state == RecipientState::kPending; });
}

bool queue_id_ok(std::string_view id) {
  if (id.empty() || id.size() > kMaxQueueIdLength || id[0] == '.' || id[0] == '-') return false;
  return std::all_of(id.begin(), id.end(), id_char_ok);
}

std::string queue_id_for_message(std::string_view file_name) {
  std::string id(maildir::name_base(maildir::name_stem(file_name)));
  for (char& c : id) {
    if (!id_char_ok(c)) c = '_';
  }
  if (id.size() > kMaxQueueIdLength) id.resize(kMaxQueueIdLength);
  if (!id.empty() && (id[0] == '.' || id[0] == '-')) id[0] = '_';
  return id;
}

std::string envelope_text(const QueueEntry& entry) {
  nlohmann::ordered_json recipients = nlohmann::ordered_json::array();
  for (const auto& r : entry.recipients) {
    recipients.push_back(
        {{"address", r.address}, {"state", recipient_state_name(r.state)}, {"last_reply", cut(r.last_reply)}});
  }
  std::string message = entry.message_path;
  if (auto slash = message.rfind('/'); slash != std::string::npos && slash >= 3) {
    message = message.substr(slash - 3);  // "new/NAME" or "cur/NAME": the file relative to the Maildir
  }
  nlohmann::ordered_json j = {
      {"version", kEnvelopeVersion},
      {"id", entry.id},
      {"sender", entry.sender},
      {"message", message},
      {"size", entry.size},
      {"queued_at", entry.queued_at},
      {"next_attempt_at", entry.next_attempt_at},
      {"last_attempt_at", entry.last_attempt_at},
      {"attempts", entry.attempts},
      {"last_error", cut(entry.last_error)},
      {"bounced", entry.bounced},
      {"recipients", std::move(recipients)},
  };
  // Replies come from another server: bytes that are not UTF-8 become U+FFFD rather than fail.
  return j.dump(1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

Result<QueueEntry> parse_envelope(std::string_view text, const std::string& messages_maildir) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return make_error(ErrorCode::kIo, "not a JSON object");
  try {
    if (j.at("version").get<int>() != kEnvelopeVersion) {
      return make_error(ErrorCode::kIo, "unknown envelope version " + j.at("version").dump());
    }
    QueueEntry e;
    e.id = j.at("id").get<std::string>();
    if (!queue_id_ok(e.id)) return make_error(ErrorCode::kIo, "invalid id");
    e.sender = j.at("sender").get<std::string>();
    std::string message = j.at("message").get<std::string>();
    if (message.size() < 5 || (message.compare(0, 4, "new/") != 0 && message.compare(0, 4, "cur/") != 0) ||
        !maildir::message_name_ok(std::string_view(message).substr(4))) {
      return make_error(ErrorCode::kIo, "invalid message file name");
    }
    e.message_path = join(messages_maildir, message);
    e.size = j.at("size").get<uint64_t>();
    e.queued_at = j.at("queued_at").get<int64_t>();
    e.next_attempt_at = j.at("next_attempt_at").get<int64_t>();
    e.last_attempt_at = j.at("last_attempt_at").get<int64_t>();
    e.attempts = j.at("attempts").get<uint32_t>();
    e.last_error = j.at("last_error").get<std::string>();
    e.bounced = j.at("bounced").get<bool>();
    for (const auto& r : j.at("recipients")) {
      QueuedRecipient q;
      q.address = r.at("address").get<std::string>();
      auto state = state_from_name(r.at("state").get<std::string>());
      if (!state) return make_error(ErrorCode::kIo, "unknown recipient state " + r.at("state").dump());
      q.state = *state;
      q.last_reply = r.at("last_reply").get<std::string>();
      e.recipients.push_back(std::move(q));
    }
    if (e.recipients.empty()) return make_error(ErrorCode::kIo, "no recipients");
    return e;
  } catch (const nlohmann::json::exception& ex) {
    return make_error(ErrorCode::kIo, std::string("missing or mistyped field (") + ex.what() + ")");
  }
}

}  // namespace mailroom::storage
