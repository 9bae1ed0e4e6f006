// RFC 5322 address-list parser: a tokenizer that drops CFWS, then a small recursive-descent-free
// parser over the tokens (address = mailbox / group; mailbox = name-addr / addr-spec).
#include "delivery/address_list.h"

#include <cctype>

#include "core/base/ascii.h"

namespace mailroom::delivery {

namespace {

enum class Tok { kAtom, kQuoted, kLiteral, kSpecial, kEnd };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;  // kAtom: the atom; kQuoted: the content, unescaped; kLiteral: "[...]"; kSpecial: one char
};

bool is_atext(unsigned char c) {
  if (c >= 0x80) return true;  // RFC 6532: UTF-8 in addresses
  if (std::isalnum(c)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '/':
    case '=': case '?': case '^': case '_': case '`': case '{': case '|': case '}': case '~': return true;
    default: return false;
  }
}

bool is_wsp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

Error invalid(std::string message) { return make_error(ErrorCode::kInvalidArgument, std::move(message)); }

// The field body as tokens, comments and white space dropped.
Result<std::vector<Token>> tokenize(std::string_view s) {
  std::vector<Token> out;
  std::size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (is_wsp(s[i])) {
      ++i;
    } else if (c == '(') {  // a comment, nested, with quoted pairs
      std::size_t depth = 0;
      for (; i < s.size(); ++i) {
        if (s[i] == '\\') {
          ++i;
        } else if (s[i] == '(') {
          ++depth;
        } else if (s[i] == ')' && --depth == 0) {
          break;
        }
      }
      if (i >= s.size()) return invalid("unterminated comment");
      ++i;
    } else if (c == '"') {
      Token t{Tok::kQuoted, {}};
      for (++i; i < s.size() && s[i] != '"'; ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        if (s[i] == '\r' || s[i] == '\n') continue;  // folding inside the quotes
        t.text += s[i];
      }
      if (i >= s.size()) return invalid("unterminated quoted string");
      ++i;
      out.push_back(std::move(t));
    } else if (c == '[') {
      Token t{Tok::kLiteral, "["};
      for (++i; i < s.size() && s[i] != ']'; ++i) {
        if (s[i] == '[' || s[i] == '\\') return invalid("invalid domain literal");
        if (!is_wsp(s[i])) t.text += s[i];
      }
      if (i >= s.size()) return invalid("unterminated domain literal");
      ++i;
      t.text += ']';
      out.push_back(std::move(t));
    } else if (is_atext(c)) {
      Token t{Tok::kAtom, {}};
      while (i < s.size() && is_atext(static_cast<unsigned char>(s[i]))) t.text += s[i++];
      out.push_back(std::move(t));
    } else if (c == '<' || c == '>' || c == '@' || c == ',' || c == ';' || c == ':' || c == '.') {
      out.push_back(Token{Tok::kSpecial, std::string(1, s[i])});
      ++i;
    } else if (c < 0x20 || c == 0x7f) {
      return invalid("control character in an address");
    } else {
      return invalid(std::string("unexpected '") + s[i] + "' in an address");
    }
  }
  out.push_back(Token{Tok::kEnd, {}});
  return out;
}

// A quoted local part stays quoted in the envelope unless it is a plain dot-atom.
std::string quote_if_needed(const std::string& word) {
  bool atom = !word.empty();
  for (char c : word) atom = atom && is_atext(static_cast<unsigned char>(c));
  if (atom) return word;
  std::string q = "\"";
  for (char c : word) {
    if (c == '"' || c == '\\') q += '\\';
    q += c;
  }
  return q + "\"";
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  Result<std::vector<AddrSpec>> run() {
    std::vector<AddrSpec> out;
    while (true) {
      while (special(",")) ++p_;  // obs-addr-list: empty elements
      if (at_end()) break;
      if (Status s = address(out, false); !s) return s.error();
      if (at_end()) break;
      if (!special(",")) return invalid("expected ',' between addresses");
    }
    return out;
  }

 private:
  const Token& cur() const { return t_[p_]; }
  bool at_end() const { return cur().kind == Tok::kEnd; }
  bool special(const char* c) const { return cur().kind == Tok::kSpecial && cur().text == c; }
  bool word() const { return cur().kind == Tok::kAtom || cur().kind == Tok::kQuoted; }

  // One address (a mailbox, or a group unless in_group) appended to `out`.
  Status address(std::vector<AddrSpec>& out, bool in_group) {
    // A phrase (display name, obs-phrase dots included) or the local part: both are words and dots.
    const std::size_t start = p_;
    while (word() || special(".")) ++p_;
    if (special("<")) {
      ++p_;
      if (special("@")) {  // obs-route: "<@a.test,@b.test:addr-spec>"
        while (!at_end() && !special(":")) ++p_;
        if (!special(":")) return invalid("invalid route in an angle address");
        ++p_;
      }
      if (special(">")) return invalid("empty angle address <>");
      auto spec = addr_spec();
      if (!spec) return spec.error();
      if (!special(">")) return invalid("missing '>' after " + spec->str());
      ++p_;
      out.push_back(std::move(*spec));
      return Status();
    }
    if (special(":")) {
      if (in_group) return invalid("a group inside a group");
      if (p_ == start) return invalid("a group without a name");
      ++p_;
      while (true) {  // group-list: mailboxes, possibly none; empty elements allowed (obsolete)
        while (special(",")) ++p_;
        if (special(";")) break;
        if (at_end()) return invalid("missing ';' at the end of a group");
        if (Status s = address(out, true); !s) return s;
        if (at_end()) return invalid("missing ';' at the end of a group");
        if (!special(",") && !special(";")) return invalid("expected ',' or ';' in a group");
      }
      ++p_;  // ';'
      return Status();
    }
    p_ = start;  // a bare addr-spec
    if (!word()) return invalid(at_end() ? "missing address" : "unexpected '" + cur().text + "'");
    auto spec = addr_spec();
    if (!spec) return spec.error();
    out.push_back(std::move(*spec));
    return Status();
  }

  Result<AddrSpec> addr_spec() {
    AddrSpec spec;
    // local-part: word *("." word) (a dot-atom is atoms and dots; obs-local-part mixes quoted words)
    if (!word()) return invalid("missing local part");
    std::vector<std::string> words;
    bool quoted_any = false;
    while (true) {
      if (!word()) return invalid("invalid local part");
      quoted_any = quoted_any || cur().kind == Tok::kQuoted;
      words.push_back(cur().text);
      ++p_;
      if (!special(".")) break;
      ++p_;
    }
    if (!special("@")) {
      if (word()) return invalid("missing '@' or '<>': a display name needs the address in <>");
      return invalid("missing '@' in address '" + words.front() + "'");
    }
    ++p_;
    if (words.size() == 1 && quoted_any) {
      spec.local = quote_if_needed(words.front());
    } else {
      for (std::size_t i = 0; i < words.size(); ++i) {
        if (i) spec.local += '.';
        spec.local += quote_if_needed(words[i]);
      }
    }
    if (spec.local.empty() || spec.local == "\"\"") return invalid("empty local part");
    if (cur().kind == Tok::kLiteral) {
      spec.domain = cur().text;
      ++p_;
      return spec;
    }
    while (true) {  // dot-atom (obs-domain allows CFWS around the dots: dropped already)
      if (cur().kind != Tok::kAtom) return invalid("invalid domain after " + spec.local + "@");
      spec.domain += cur().text;
      ++p_;
      if (!special(".")) break;
      spec.domain += '.';
      ++p_;
    }
    return spec;
  }

  std::vector<Token> t_;
  std::size_t p_ = 0;
};


}  // namespace

bool AddrSpec::same_as(const AddrSpec& other) const { return local == other.local && ascii_iequals(domain, other.domain); }

std::string unfold(std::string_view body) {
  std::string out;
  out.reserve(body.size());
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\r' && i + 1 < body.size() && body[i + 1] == '\n') continue;  // the LF decides
    if (body[i] == '\n' && i + 1 < body.size() && (body[i + 1] == ' ' || body[i + 1] == '\t')) continue;
    out += body[i];
  }
  return out;
}

Result<std::vector<AddrSpec>> parse_address_list(std::string_view field_body) {
  auto tokens = tokenize(unfold(field_body));
  if (!tokens) return tokens.error();
  return Parser(std::move(*tokens)).run();
}

}  // namespace mailroom::delivery
