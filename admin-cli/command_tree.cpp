// Reading mailctl's CLI11 tree back (command_tree.h).
#include "admin-cli/command_tree.h"

#include "admin-cli/suggest.h"

namespace mailroom::cli {

namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

const CLI::Option* find_option(const CLI::App& app, const std::string& name) {
  for (const CLI::Option* opt : options_at(app)) {
    if (opt->check_name(name)) return opt;
  }
  return nullptr;
}

const CLI::App* find_subcommand(const CLI::App& app, const std::string& name) {
  for (const CLI::App* sub : subcommands_of(app)) {
    if (sub->check_name(name)) return sub;
  }
  return nullptr;
}

}  // namespace

std::string command_path(const CLI::App& app) {
  std::string path = app.get_name();
  for (const CLI::App* p = app.get_parent(); p != nullptr; p = p->get_parent()) path = p->get_name() + " " + path;
  return path;
}

std::vector<const CLI::App*> subcommands_of(const CLI::App& app) {
  return app.get_subcommands([](const CLI::App* sub) { return !sub->get_name().empty(); });
}

std::vector<std::string> subcommand_names(const CLI::App& app) {
  std::vector<std::string> out;
  for (const CLI::App* sub : subcommands_of(app)) out.push_back(sub->get_name());
  return out;
}

std::vector<const CLI::Option*> options_at(const CLI::App& app) {
  std::vector<const CLI::Option*> out;
  for (const CLI::App* level = &app; level != nullptr; level = level->get_parent()) {
    for (const CLI::Option* opt : level->get_options([](const CLI::Option* o) { return !o->get_positional(); })) {
      out.push_back(opt);
    }
  }
  return out;
}

std::vector<std::string> option_names(const CLI::App& app) {
  std::vector<std::string> out;
  for (const CLI::Option* opt : options_at(app)) {
    for (const auto& l : opt->get_lnames()) out.push_back("--" + l);
    for (const auto& s : opt->get_snames()) out.push_back("-" + s);
  }
  return out;
}

// A flag is declared with expected(0) (its type size stays 1).
bool takes_value(const CLI::Option& option) { return option.get_expected_max() > 0 && option.get_type_size_max() > 0; }

std::optional<std::string> explain_parse_failure(const CLI::App& root, const std::vector<std::string>& args) {
  const CLI::App* current = &root;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& word = args[i];
    if (word == "--") break;  // the rest are arguments, whatever they look like
    if (word.size() > 1 && word[0] == '-') {
      const std::string name = word.substr(0, word.find('='));
      const CLI::Option* opt = find_option(*current, name);
      if (opt == nullptr) {
        std::string message = "unknown option '" + name + "' for '" + command_path(*current) + "'";
        if (auto near = nearest_name(name, option_names(*current))) return message + " (did you mean '" + *near + "'?)";
        return message + " (see '" + command_path(*current) + " --help')";
      }
      if (takes_value(*opt) && name.size() == word.size()) ++i;  // its value is the next word
      continue;
    }
    const auto names = subcommand_names(*current);
    if (names.empty()) continue;  // a leaf command's argument
    if (const CLI::App* sub = find_subcommand(*current, word)) {
      current = sub;
      continue;
    }
    std::string message = "unknown command '" + word + "' for '" + command_path(*current) + "'";
    if (auto near = nearest_name(word, names)) return message + " (did you mean '" + *near + "'?)";
    return message + " (commands: " + joined(names) + ")";
  }
  if (!subcommand_names(*current).empty() && current->get_require_subcommand_min() > 0) {
    return "'" + command_path(*current) + "' needs a command: " + joined(subcommand_names(*current));
  }
  return std::nullopt;
}

}  // namespace mailroom::cli
