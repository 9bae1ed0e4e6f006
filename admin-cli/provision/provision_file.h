// The provisioning file (mailctl export / apply, docs/provisioning.md): JSON with "version": 1,
// read into the desired state with every value checked as mailctl's own commands check it, each
// problem named by its path ("mailboxes[12].address: ..."); and the export written from a
// database snapshot. Pure: no database, no files.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/config/setting_spec.h"
#include "storage/address.h"
#include "storage/provisioning.h"

namespace mailroom::cli::provision {

inline constexpr int kFileVersion = 1;

struct Problem {
  std::string path;  // "mailboxes[12].address"; "" for the file as a whole
  std::string message;
  std::string text() const { return path.empty() ? message : path + ": " + message; }
};

struct DesiredPostoffice {
  std::string name;  // normalised
  bool enabled = true;
  // Account settings (config::account_settings_catalog()): canonical values of the keys the file
  // gives; absent in the file = {} (with --prune, stored ones not given are removed).
  std::map<std::string, std::string> settings;
  std::string path;  // "postoffices[3]"
};

struct DesiredMailbox {
  storage::Address address;  // normalised
  bool enabled = true;
  // Exactly one of the two is given in the file. The hash is in its stored form.
  std::optional<std::string> password_hash;
  std::optional<std::string> password;  // plaintext; never printed
  std::optional<std::string> maildir;   // absolute, normalised; nullopt: the default one
  std::map<std::string, std::string> settings;  // account settings, as DesiredPostoffice's
  std::string path;                             // "mailboxes[12]"
};

struct DesiredService {
  std::string name;
  std::string module;
  bool enabled = true;
  std::map<std::string, std::string> settings;  // canonical values of the keys the file gives
  std::string path;
};

struct DesiredRule {
  storage::ProvisionedRule rule;  // canonical rule text
  std::string path;
};

// A section absent from the file (nullopt) is left alone, --prune included.
struct DesiredState {
  std::optional<std::vector<DesiredPostoffice>> postoffices;
  std::optional<std::vector<DesiredMailbox>> mailboxes;
  std::optional<std::vector<DesiredService>> services;
  std::optional<std::vector<DesiredRule>> access_rules;
  // Daemon-wide settings: canonical values of the keys the file gives.
  std::optional<std::map<std::string, std::string>> daemon_settings;
};

// Whether a daemon-wide setting travels in a provisioning file: a key this build knows, not a
// secret (smarthost_password: 'mailctl daemon set' only) and not mail_root (a path of this
// machine, like the data directory, which also decides where new Maildirs go).
bool provisioned_daemon_setting(const std::string& key);

struct ParsedFile {
  DesiredState state;
  std::vector<Problem> problems;  // empty: the file may be applied
};

// Parses and checks `text`. A JSON syntax error is one problem naming the line and column.
ParsedFile parse_provisioning_file(const std::string& text);

// The export of a snapshot: the stored settings typed by their spec (a value the spec rejects
// stays a string), account settings of every postoffice and mailbox ({} when none), maildirs only
// where not the default under `mail_root` (storage/mail_root.h), no derived secrets. Node-local
// settings (DATA/node.json) are not the cluster's and are never exported.
nlohmann::ordered_json export_json(const storage::ProvisioningSnapshot& snapshot, const std::string& mail_root);

// A stored (canonical) setting value as JSON, typed by its spec: int -> number, bool -> true or
// false, string -> string; a value the spec rejects (or no spec) stays text.
nlohmann::ordered_json typed_setting(const config::SettingSpec* spec, const std::string& value);

// "mailboxes[12].address: ... (and 3 more problems)" for the error line.
std::string problems_summary(const std::vector<Problem>& problems);

}  // namespace mailroom::cli::provision
