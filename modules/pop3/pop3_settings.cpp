// Declarations of the pop3 module's own settings with their defaults and doc lines.
#include "modules/pop3/pop3_settings.h"

#include "core/config/account_settings.h"
#include "core/module/module_catalog.h"
#include "modules/pop3/pop3_descriptor.h"
#include "modules/pop3/session.h"
#include "storage/mail_store.h"
#include "storage/uidl/uidl_template.h"

#include <cctype>

namespace mailroom::pop3 {

std::vector<std::string> split_mechanisms(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : std::string(text) + " ") {
    if (c == ' ' || c == ',' || c == '\t') {
      if (!cur.empty()) {
        bool dup = false;
        for (const auto& o : out) dup = dup || o == cur;
        if (!dup) out.push_back(cur);
      }
      cur.clear();
    } else {
      cur += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

auth::LoginOffer login_offer(const config::ServiceSettings& settings) {
  return auth::LoginOffer{split_mechanisms(settings.get_string("auth_mechanisms")), settings.get_bool("apop")};
}

namespace {

std::optional<std::string> check_alt_at_chars(std::string_view v) {
  for (char c : v) {
    bool punct = (c >= '!' && c <= '/') || (c >= ':' && c <= '?') || (c >= '[' && c <= '`') ||
                 (c >= '{' && c <= '~');
    if (!punct || c == '@' || c == '.' || c == '-' || c == '_' || c == '+') {
      return std::string("only punctuation other than @ . - _ + is allowed (e.g. '#$%')");
    }
  }
  return std::nullopt;
}

constexpr std::string_view kSaslMechanisms[] = {"PLAIN", "LOGIN", "CRAM-MD5", "NTLM", "SCRAM-SHA-1", "SCRAM-SHA-256"};

std::optional<std::string> check_auth_mechanisms(std::string_view v) {
  auto names = split_mechanisms(v);
  for (const auto& n : names) {
    bool known = false;
    for (const auto& k : kSaslMechanisms) known = known || n == k;
    if (!known) {
      return "unknown mechanism '" + n + "' (available: PLAIN, LOGIN, CRAM-MD5, NTLM, SCRAM-SHA-1, SCRAM-SHA-256)";
    }
  }
  return std::nullopt;
}

std::optional<std::string> check_nul_bytes(std::string_view v) {
  if (nul_replacement(v) || v == "keep") return std::nullopt;
  return std::string("expected keep, 0x80 or space");
}

}  // namespace

std::optional<char> nul_replacement(std::string_view nul_bytes) {
  if (nul_bytes == "0x80") return static_cast<char>(0x80);
  if (nul_bytes == "space") return ' ';
  return std::nullopt;
}

std::vector<config::SettingSpec> pop3_setting_specs() {
  std::vector<config::SettingSpec> specs;
  specs.push_back(config::string_setting("alt_at_chars", "", 16,
                                         "Characters accepted in place of '@' in logins, e.g. '#$%' lets "
                                         "alice#example.test log in as alice@example.test.",
                                         check_alt_at_chars));
  specs.push_back(config::string_setting(
      "banner", std::string(kDefaultBanner), kMaxBannerLength,
      "Text of the greeting after '+OK' (with apop, the timestamp follows within the 512-octet line) and "
      "of the sign-off after QUIT: the banner with a final 'ready' replaced by 'signing off'. Names no "
      "product by default."));
  specs.push_back(config::bool_setting("capa_implementation", false,
                                       "Advertise 'IMPLEMENTATION Mailroom' in CAPA (off: nothing on the wire names "
                                       "the server software)."));
  specs.push_back(config::string_setting("auth_mechanisms", "PLAIN LOGIN", 256,
                                         "SASL mechanisms offered by AUTH (RFC 5034), space-separated, in CAPA "
                                         "order: PLAIN, LOGIN, CRAM-MD5, NTLM, SCRAM-SHA-1, SCRAM-SHA-256; empty "
                                         "offers none. PLAIN and LOGIN send the password, so they follow "
                                         "tls_required_for_login like USER/PASS. CRAM-MD5 and NTLM make Mailroom "
                                         "store a plaintext-equivalent secret per mailbox (encrypted; see "
                                         "docs/auth.md).",
                                         check_auth_mechanisms));
  specs.push_back(config::bool_setting("apop", false,
                                       "Offer APOP (RFC 1939): the greeting carries a timestamp and APOP logins are "
                                       "accepted. Needs the password itself stored (encrypted) per mailbox, filled in "
                                       "when the password is next set or used to log in; see docs/auth.md."));
  specs.push_back(config::bool_setting("ntlm_v1", false,
                                       "Accept NTLMv1 responses (broken cryptography; only for very old Windows "
                                       "clients). Off: NTLM accepts NTLMv2 only."));
  specs.push_back(config::int_setting("retr_readahead", 128 * 1024, 0, 16 * 1024 * 1024,
                                      "Bytes of the following messages read ahead, in the same disk job, when a "
                                      "RETR reaches the end of a message: a client fetching its mail in order then "
                                      "gets the next messages without waiting for the disk. Only whole messages that "
                                      "fit are read; held per session until retrieved or the session ends; 0 "
                                      "turns read-ahead off."));
  specs.push_back(config::int_setting("max_bad_commands", 10, 1, 1000,
                                      "Unknown, malformed or out-of-state commands allowed in one session "
                                      "before it is ended."));
  // XTND XMIT (docs/xtnd-xmit.md)
  specs.push_back(config::bool_setting(
      "xtnd_xmit", false,
      "Accept XTND XMIT (Eudora, qpopper): a logged-in client sends a message through the POP3 session; "
      "recipients are taken from To, Cc and Bcc (Bcc removed before delivery). Local recipients get it "
      "as SMTP would deliver it; remote ones are queued for the smarthost (refused without one). CAPA "
      "lists XTND XMIT exactly when this is on."));
  specs.push_back(config::bool_setting(
      "xtnd_xmit_any_sender", false,
      "Let XTND XMIT send with any From address. Off: From must be the logged-in mailbox's address. "
      "The envelope sender (bounces) is always the logged-in mailbox."));
  specs.push_back(config::int_setting(
      "max_message_size", static_cast<int64_t>(storage::kDefaultMaxMessageSize), 1024, int64_t{1} << 40,
      "The largest message XTND XMIT accepts, in octets as sent (CRLF line ends), as smtp's "
      "max_message_size. A larger one is read to its end and refused; nothing is stored."));
  specs.push_back(config::int_setting(
      "xtnd_xmit_max_line_length", 65536, 1000, 16 * 1024 * 1024,
      "The longest line of an XTND XMIT message, in octets with its CRLF; a message with a longer line is "
      "refused (as smtp's max_line_length)."));
  specs.push_back(config::int_setting(
      "xtnd_xmit_max_header_size", 65536, 1024, 1024 * 1024,
      "Octets of From, To, Cc and Bcc field bodies an XTND XMIT message may have (they are held in "
      "memory while the message streams to disk); a message with more is refused."));
  // Issue 18, h-pop3depth: LOGIN-DELAY, EXPIRE and client workarounds (docs/pop3-extensions.md).
  // The service-wide defaults of two account settings: the same type, bounds and validator as the
  // per-postoffice and per-mailbox values (config::account_settings_catalog()), their own text.
  const auto service_default = [](std::string_view key, std::string doc) {
    config::SettingSpec spec = *config::account_settings_catalog().find(key);
    spec.doc = std::move(doc);
    return spec;
  };
  specs.push_back(service_default(
      config::kLoginDelay,
      "Least seconds between two logins to one mailbox (RFC 2449 LOGIN-DELAY); a login that comes "
      "sooner is refused with -ERR [LOGIN-DELAY] after its password was checked (not counted as a "
      "failed login). A mailbox's or postoffice's login_delay wins. 0: none, and no LOGIN-DELAY in CAPA."));
  specs.push_back(service_default(
      config::kExpireDays,
      "Days a message is kept after its first RETR (RFC 2449 EXPIRE): 'never' or 0-36500. Expired "
      "messages are removed at the UPDATE (QUIT) of a later session, with its own deletions; 0 removes "
      "what a session retrieved at its own QUIT. A mailbox's or postoffice's expire_days wins. CAPA "
      "shows EXPIRE NEVER or EXPIRE <days>."));
  specs.push_back(config::bool_setting(
      "auth_list_bare", true,
      "Answer AUTH without a mechanism with the list of SASL mechanisms (+OK, one a line, '.'), as "
      "Outlook and Thunderbird probe (RFC 1734 era; Dovecot does the same). Off: -ERR."));
  specs.push_back(config::string_setting(
      "nul_bytes", "keep", 5,
      "NUL bytes in messages as RETR and TOP send them: keep; 0x80 (Dovecot's outlook-no-nuls: "
      "Outlook hangs on NULs); space. Each NUL is replaced by one byte, so LIST sizes stay exact.",
      check_nul_bytes));
  specs.push_back(config::bool_setting(
      "top_add_blank_line", false,
      "TOP of a message without a blank line after its headers adds one (Dovecot's oe-ns-eoh: "
      "Outlook Express and Netscape otherwise misread the reply)."));
  specs.push_back(config::bool_setting(
      "last_command", false,
      "Accept LAST (RFC 1460, removed in RFC 1725): the highest message number sent by RETR or TOP "
      "in the session, 0 after RSET. Off: LAST is an unknown command."));
  // UIDLs that survive a migration (issue 18, h-uidl; docs/mailctl.md "mailbox import-uidls")
  specs.push_back(config::string_setting(
      "uidl_format", std::string(storage::uidl::kNativeFormat), 200,
      "UIDL of a message that has none yet: 'native' (its file's base name) or a Dovecot-style "
      "pop3_uidl_format template: %u the message's uid (counted per mailbox, never reused), %v the "
      "mailbox's uidvalidity, %f the file's base name; a width such as %08 pads with zeros, X writes "
      "a number in hex (%08Xu%08Xv: Dovecot 1.x's default and UW ipop3d's order reversed; %v.%u; %u; "
      "%f: Courier). UIDLs already shown or imported never change; messages already in a Maildir "
      "when a template first applies keep the UIDLs they had.",
      [](std::string_view v) { return storage::uidl::check_uidl_format(v); }));
  return specs;
}

const config::SettingsCatalog& pop3_settings_catalog() {
  static const config::SettingsCatalog catalog = core::compose_settings_catalog(pop3_descriptor());
  return catalog;
}

}  // namespace mailroom::pop3
