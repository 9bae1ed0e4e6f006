// Password resolution on a pool of std::threads (argon2id is slow by design: ~0.1 s a password).
#include "admin-cli/provision/provision_passwords.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "auth/secrets.h"
#include "storage/password/password_hash.h"

namespace mailroom::cli::provision {

namespace pw = storage::password;

Result<std::vector<ResolvedPassword>> resolve_passwords(const PasswordJob& job) {
  const auto& mailboxes = *job.desired->mailboxes;
  std::map<std::string, const std::string*> stored;
  for (const auto& m : job.current->mailboxes) stored.emplace(m.address.str(), &m.password_hash);
  auto stored_hash = [&](const DesiredMailbox& m) -> const std::string* {
    auto it = stored.find(m.address.str());
    return it == stored.end() ? nullptr : it->second;
  };

  std::vector<ResolvedPassword> out(mailboxes.size());
  std::vector<std::size_t> slow;  // plaintext passwords: verified and/or hashed on the pool
  for (std::size_t i = 0; i < mailboxes.size(); ++i) {
    const DesiredMailbox& m = mailboxes[i];
    if (m.password_hash) {
      const std::string* current = stored_hash(m);
      out[i] = ResolvedPassword{*m.password_hash, {}, current == nullptr || *current != *m.password_hash};
    } else {
      slow.push_back(i);
    }
  }
  if (slow.empty()) return out;

  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> done{0};
  std::mutex error_mu;
  std::optional<Error> first_error;  // guarded by error_mu
  std::atomic<bool> failed{false};
  auto work = [&] {
    while (true) {
      const std::size_t k = next.fetch_add(1);
      if (k >= slow.size()) return;
      const std::size_t i = slow[k];
      const DesiredMailbox& m = mailboxes[i];
      const std::string* current = stored_hash(m);
      if (current != nullptr && pw::verify_password(*m.password, *current)) {
        out[i] = ResolvedPassword{*current, {}, false};
      } else if (job.dry_run) {
        out[i] = ResolvedPassword{"", {}, true};
      } else if (auto hash = pw::hash_password(*m.password)) {
        out[i] = ResolvedPassword{std::move(*hash), auth::derive_secrets(*m.password, job.secret_kinds), true};
      } else {
        std::lock_guard lock(error_mu);
        if (!first_error) first_error = Error{hash.error().code, m.path + ".password: " + hash.error().message};
        failed.store(true);
        next.store(slow.size());  // the others stop after their current password
      }
      done.fetch_add(1);
    }
  };
  const unsigned threads = std::max(1u, std::min<unsigned>(job.threads, static_cast<unsigned>(slow.size())));
  std::vector<std::jthread> pool;
  pool.reserve(threads);
  for (unsigned t = 0; t < threads; ++t) pool.emplace_back(work);
  if (job.progress) {
    while (done.load() < slow.size() && !failed.load()) {
      job.progress(done.load(), slow.size());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  pool.clear();  // joins
  if (job.progress) job.progress(done.load(), slow.size());
  if (first_error) return *first_error;
  return out;
}

}  // namespace mailroom::cli::provision
