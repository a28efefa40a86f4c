// The labs table: one row per lab `up` has recorded on this host.

#include "sqlite.hpp"
#include "store_detail.hpp"
#include "vmlab/state/state.hpp"
#include "vmlab/util/error.hpp"
#include "vmlab/util/password.hpp"

namespace vmlab {

namespace {

constexpr const char* lab_columns =
    "name, title, host_uri, pool, pool_path, spec_text, spec_hash, source_file, created_at, "
    "updated_at, seats";

LabRecord read_lab(const sqlite::Statement& row) {
    return {row.text(0), row.text(1), row.text(2),    row.text(3),    row.text(4),   row.text(5),
            row.text(6), row.text(7), row.integer(8), row.integer(9), row.number(10)};
}

}  // namespace

void StateStore::upsert_lab(const LabRecord& lab) {
    const auto lock = m_db->lock();
    const auto time = sqlite::now();
    sqlite::Statement(*m_db, R"sql(
        INSERT INTO labs (name, title, host_uri, pool, pool_path, spec_text, spec_hash,
                          source_file, created_at, updated_at, seats)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
        ON CONFLICT (name) DO UPDATE SET
            title = excluded.title, host_uri = excluded.host_uri, pool = excluded.pool,
            pool_path = excluded.pool_path, spec_text = excluded.spec_text,
            spec_hash = excluded.spec_hash, source_file = excluded.source_file,
            updated_at = excluded.updated_at, seats = excluded.seats)sql")
        .bind(lab.name, lab.title, lab.host_uri, lab.pool, lab.pool_path, lab.spec_text,
              lab.spec_hash, lab.source_file, lab.created_at ? lab.created_at : time,
              lab.updated_at ? lab.updated_at : time, lab.seats)
        .step();
}

std::optional<LabRecord> StateStore::find_lab(const std::string& name) {
    const auto lock = m_db->lock();
    sqlite::Statement query(*m_db, std::string("SELECT ") + lab_columns + " FROM labs WHERE name = ?1");
    if (!query.bind(name).step()) return std::nullopt;
    return read_lab(query);
}

LabRecord StateStore::require_lab(const std::string& name) {
    auto record = find_lab(name);
    if (!record)
        throw Error("no lab named " + name + " in " + path().string(),
                    "`vmlab status` lists the labs; `vmlab up LAB.toml` records a new one", ExitCode::invalid);
    return *record;
}

std::vector<LabRecord> StateStore::labs() {
    const auto lock = m_db->lock();
    sqlite::Statement query(*m_db, std::string("SELECT ") + lab_columns + " FROM labs ORDER BY name");
    std::vector<LabRecord> result;
    while (query.step()) result.push_back(read_lab(query));
    return result;
}

std::string StateStore::lab_secret(const std::string& lab) {
    const auto lock = m_db->lock();
    sqlite::Transaction transaction(*m_db);
    sqlite::Statement query(*m_db, "SELECT secret FROM labs WHERE name = ?1");
    if (!query.bind(lab).step()) throw Error("no lab named " + lab + " in " + path().string(), "run `vmlab up` first");
    std::string secret = query.text(0);
    if (secret.empty()) {
        secret = new_secret();
        sqlite::Statement(*m_db, "UPDATE labs SET secret = ?2 WHERE name = ?1").bind(lab, secret).step();
    }
    transaction.commit();
    return secret;
}

void StateStore::delete_lab(const std::string& name) {
    const auto lock = m_db->lock();
    sqlite::Statement(*m_db, "DELETE FROM labs WHERE name = ?1").bind(name).step();
}

}  // namespace vmlab
