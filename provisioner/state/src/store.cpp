// Opening the state store: the file, its directory, the schema; and transactions.

#include <unistd.h>

#include <cstdlib>

#include "migrations.hpp"
#include "sqlite.hpp"
#include "store_detail.hpp"
#include "vmlab/state/state.hpp"
#include "vmlab/util/error.hpp"
#include "vmlab/util/files.hpp"
#include "vmlab/util/os_user.hpp"

namespace vmlab {

namespace fs = std::filesystem;

StateStore::StateStore(std::unique_ptr<sqlite::Database> db) : m_db(std::move(db)) {}
StateStore::StateStore(StateStore&&) noexcept = default;
StateStore& StateStore::operator=(StateStore&&) noexcept = default;
StateStore::~StateStore() = default;

StateStore StateStore::open(const fs::path& path) {
    const std::string hint(sqlite::access_hint);
    create_private_directories(path.parent_path(), "the directory of the state database", hint);
    create_private_file(path, "state database", hint);
    StateStore store(std::make_unique<sqlite::Database>(path));
    sqlite::migrate(*store.m_db);
    return store;
}

fs::path StateStore::default_path() {
    if (geteuid() == 0) return "/var/lib/vmlab/state.db";
    if (const char* data = std::getenv("XDG_DATA_HOME"); data && *data == '/')
        return fs::path(data) / "vmlab" / "state.db";
    std::string home;
    if (const char* env = std::getenv("HOME"); env && *env)
        home = env;
    else if (const auto account = current_os_account())
        home = account->home;
    if (home.empty())
        throw Error("cannot find the home directory for the state database",
                    "set HOME or XDG_DATA_HOME");
    return fs::path(home) / ".local" / "share" / "vmlab" / "state.db";
}

const fs::path& StateStore::path() const noexcept { return m_db->path(); }

void StateStore::transaction(const std::function<void()>& f) {
    sqlite::Transaction transaction(*m_db);
    f();
    transaction.commit();
}

}  // namespace vmlab
