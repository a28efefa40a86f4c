#include "sqlite.hpp"

#include "vmlab/util/error.hpp"
#include "store_detail.hpp"

namespace vmlab::sqlite {

namespace fs = std::filesystem;

[[noreturn]] void fail(const fs::path& path, int rc, const char* message) {
    const auto what = "state database " + path.string() + ": " + message;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        throw Error(what, "another vmlab command is using it; wait for it to finish and retry");
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        throw Error(what,
                    "the file is damaged or not a vmlab database: restore it from a backup, "
                    "or move it aside to start with an empty state (vmlab then forgets the "
                    "labs it recorded there)");
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
        throw Error(what, std::string(access_hint));
    case SQLITE_FULL:
    case SQLITE_IOERR:
        throw Error(what, "check the file system holding it for free space and I/O errors");
    default:
        throw Error(what, "this is a bug in vmlab; please report it with the command you ran");
    }
}

Database::Database(fs::path path) : m_path(std::move(path)) {
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(m_path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                   nullptr);
    m_db.reset(db);
    if (rc != SQLITE_OK) fail(m_path, rc, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    exec("PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
         "PRAGMA foreign_keys = ON;");
}

void Database::exec(const std::string& sql) {
    if (const int rc = sqlite3_exec(m_db.get(), sql.c_str(), nullptr, nullptr, nullptr);
        rc != SQLITE_OK)
        fail(m_path, rc, sqlite3_errmsg(m_db.get()));
}

sqlite3_stmt* Database::cached(const char* sql) {
    auto [it, inserted] = m_statements.try_emplace(sql);
    if (!inserted) return sqlite3_stmt_busy(it->second.get()) ? nullptr : it->second.get();
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v2(m_db.get(), sql, -1, &stmt, nullptr);
    if (rc != SQLITE_OK) {
        m_statements.erase(it);
        sqlite3_finalize(stmt);
        fail(m_path, rc, sqlite3_errmsg(m_db.get()));
    }
    it->second.reset(stmt);
    return stmt;
}

void Database::begin() {
    exec(m_depth == 0 ? "BEGIN IMMEDIATE" : "SAVEPOINT nested");
    ++m_depth;
}

void Database::commit() {
    exec(m_depth == 1 ? "COMMIT" : "RELEASE nested");
    --m_depth;
}

void Database::rollback() noexcept {
    --m_depth;
    sqlite3_exec(m_db.get(), m_depth == 0 ? "ROLLBACK" : "ROLLBACK TO nested; RELEASE nested",
                 nullptr, nullptr, nullptr);
}

Statement::Statement(Database& db, const char* sql) : m_db(db), m_stmt(db.cached(sql)) {
    if (m_stmt) return;
    const int rc = sqlite3_prepare_v2(m_db.handle(), sql, -1, &m_stmt, nullptr);
    m_owned.reset(m_stmt);
    if (rc != SQLITE_OK) fail(m_db.path(), rc, sqlite3_errmsg(m_db.handle()));
}

Statement::~Statement() {
    if (m_owned) return;  // finalized by m_owned
    sqlite3_reset(m_stmt);
    sqlite3_clear_bindings(m_stmt);
}

bool Statement::step() {
    const int rc = sqlite3_step(m_stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) fail(m_db.path(), rc, sqlite3_errmsg(m_db.handle()));
    return rc == SQLITE_ROW;
}

std::string Statement::text(int column) const {
    const auto* chars = reinterpret_cast<const char*>(sqlite3_column_text(m_stmt, column));
    const auto size = static_cast<std::size_t>(sqlite3_column_bytes(m_stmt, column));
    return chars ? std::string(chars, size) : std::string();
}

}  // namespace vmlab::sqlite
