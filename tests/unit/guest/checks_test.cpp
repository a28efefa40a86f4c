#include "vmlab/guest/checks.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace vmlab {
namespace {

namespace fs = std::filesystem;

const std::string ed25519_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIe802PKvXXQrJsUaALxrjZGDryVhHjCZrjDOPEoNaLM presenter@laptop";
const std::string ecdsa_key = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBILNadcb0M1MglgRcZMNixpWeCt7sBgmDEVqsCz12PniJ38c4OIAAYWZTu+HrazOe5gYIe58eRzMmiUW7faLzPU= root@vm";
const std::string rsa_key = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCmnGi1bfc3uZW8rPIi9acjF0J2FxB+22yCcYxFK5B4Gr3NIqcdqr2d05U0+VVPm8pOAXCTIc2qg1xQN9rafKDNl7NzJCqTkbQNf5RKFJfSYHTgYVuO7LOscLyVUtDQ8M8M+f83EBAYnVQrxEcC/2g3+ce336DI+43fqFVePLMHBOdVzgS8MKTcDGKTl15+if+m8qfAscrPPS/i4ZKVuUY0qjVhUuH4peIjjDDO4wMKT9EVy+1v3g2LA2MfD1Y3bZ44An6N/TgpwK8C11ZAarE3E9KlhWRgesRYn3p6bRarvVJtnv3hDdG4RM2JSGrEguG+W31j3WHbH26Sdf9kLbPt root@vm";

class UserDataFileTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "vmlab-guest-test-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        m_dir = pattern;
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(m_dir, ec);
    }
    fs::path write(const std::string& name, const std::string& text) {
        std::ofstream(m_dir / name, std::ios::binary) << text;
        return m_dir / name;
    }
    const fs::path& dir() const { return m_dir; }

private:
    fs::path m_dir;
};

const SourcePos named_at{"lab.toml", 12, 13};
const SourcePos file_start{"web.yaml", 1, 1};

TEST_F(UserDataFileTest, ReadsAFile) {
    const UserDataFile f = read_user_data(write("web.yaml", "#cloud-config\npackages: [nginx]\n"), named_at);
    EXPECT_TRUE(f.diagnostics.empty());
    EXPECT_EQ(f.text, "#cloud-config\npackages: [nginx]\n");
}

TEST_F(UserDataFileTest, AMissingFileIsAnErrorWhereTheLabNamesIt) {
    const UserDataFile f = read_user_data(dir() / "nope.yaml", named_at);
    ASSERT_EQ(f.diagnostics.size(), 1u);
    EXPECT_FALSE(f.text);
    EXPECT_EQ(format(f.diagnostics[0]), "lab.toml:12:13: error: user_data: " + (dir() / "nope.yaml").string() +
                                            " does not exist (the path is relative to the lab file)");
}

TEST_F(UserDataFileTest, ADirectoryIsAnError) {
    const UserDataFile f = read_user_data(dir(), named_at);
    ASSERT_EQ(f.diagnostics.size(), 1u);
    EXPECT_NE(f.diagnostics[0].message.find("is not a regular file"), std::string::npos);
}

TEST_F(UserDataFileTest, MoreThan64KiBIsAnError) {
    const std::string exactly = "#cloud-config\n" + std::string(max_user_data_bytes - 14, '#');
    EXPECT_TRUE(read_user_data(write("ok.yaml", exactly), named_at).diagnostics.empty());
    const UserDataFile f = read_user_data(write("big.yaml", exactly + "#"), named_at);
    ASSERT_EQ(f.diagnostics.size(), 1u);
    EXPECT_FALSE(f.text);
    EXPECT_EQ(f.diagnostics[0].where.line, 12u);
    EXPECT_NE(f.diagnostics[0].message.find("65537 bytes, more than the 64 KiB"), std::string::npos) << f.diagnostics[0].message;
}

TEST(CheckCloudConfig, AcceptsACloudConfig) {
    EXPECT_TRUE(check_cloud_config("#cloud-config\npackages: [nginx]\nruncmd:\n  - echo hi\n", file_start).empty());
    EXPECT_TRUE(check_cloud_config("#cloud-config  \r\n", file_start).empty());  // empty is fine
}

TEST(CheckCloudConfig, TheFirstLineMustSayCloudConfig) {
    auto d = check_cloud_config("packages: [nginx]\n", file_start);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(format(d[0]), "web.yaml:1:1: error: user_data: the first line must be '#cloud-config' (vmlab merges cloud-config only)");
    d = check_cloud_config("#!/bin/sh\necho hi\n", file_start);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_NE(d[0].message.find("runcmd"), std::string::npos);
    d = check_cloud_config("#cloud-configs\n", file_start);
    EXPECT_EQ(d.size(), 1u);
    d = check_cloud_config("Content-Type: multipart/mixed\n", file_start);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_NE(d[0].message.find("MIME"), std::string::npos);
}

TEST(CheckCloudConfig, ReportsYamlErrorsAtTheirLineAndColumn) {
    const auto d = check_cloud_config("#cloud-config\npackages:\n  - nginx\n runcmd: [\n", file_start);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].severity, Severity::error);
    EXPECT_NE(d[0].message.find("not valid YAML"), std::string::npos);
    EXPECT_GE(d[0].where.line, 3u);
    EXPECT_EQ(d[0].where.file, "web.yaml");
}

TEST(CheckCloudConfig, TheTopLevelMustBeAMapping) {
    const auto d = check_cloud_config("#cloud-config\n- a\n- b\n", file_start);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_NE(d[0].message.find("mapping"), std::string::npos);
}

TEST(CheckCloudConfig, FinalMessageIsVmlabsAndHostnameOverridesWarn) {
    const auto d = check_cloud_config("#cloud-config\nhostname: x\nfinal_message: done\n", file_start);
    ASSERT_EQ(d.size(), 2u);
    EXPECT_EQ(d[0].severity, Severity::warning);
    EXPECT_EQ(d[0].where.line, 2u);
    EXPECT_EQ(d[0].where.column, 1u);
    EXPECT_EQ(d[1].severity, Severity::error);
    EXPECT_EQ(format(d[1]), "web.yaml:3:1: error: user_data: final_message is vmlab's: it tells when setup finished; remove it");
}

TEST(SshPublicKey, AcceptsOpenSshPublicKeys) {
    EXPECT_EQ(ssh_public_key_problem(ed25519_key), std::nullopt);
    EXPECT_EQ(ssh_public_key_problem(ecdsa_key), std::nullopt);
    EXPECT_EQ(ssh_public_key_problem(rsa_key), std::nullopt);
    EXPECT_EQ(ssh_public_key_problem(ed25519_key + "\n"), std::nullopt);
    EXPECT_EQ(ssh_public_key_problem(ed25519_key.substr(0, ed25519_key.rfind(' '))), std::nullopt);  // no comment
}

TEST(SshPublicKey, RefusesWhatIsNotAPublicKey) {
    const auto problem = [](const std::string& key) { return ssh_public_key_problem(key).value_or("(accepted)"); };
    EXPECT_EQ(problem(""), "an empty SSH key");
    EXPECT_NE(problem("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1r\n").find("private key"), std::string::npos);
    EXPECT_NE(problem("ssh-foo AAAA").find("not an OpenSSH public key"), std::string::npos);
    EXPECT_NE(problem("from=\"10.0.0.1\" " + ed25519_key).find("options before the key"), std::string::npos);
    EXPECT_NE(problem("ssh-ed25519").find("is missing"), std::string::npos);
    EXPECT_NE(problem("ssh-ed25519 not-base64!").find("not a ssh-ed25519 key"), std::string::npos);
    // A key whose data says it is of another type than its prefix.
    EXPECT_NE(problem("ssh-rsa " + ed25519_key.substr(12)).find("not a ssh-rsa key"), std::string::npos);
    // Cut off while copying.
    EXPECT_NE(problem(ed25519_key.substr(0, 20)).find("not a ssh-ed25519 key"), std::string::npos);
    EXPECT_NE(problem("ssh-dss AAAAB3NzaC1kc3MAAACBAP").find("DSA"), std::string::npos);
    EXPECT_NE(problem(ed25519_key + "\n" + ed25519_key).find("one line"), std::string::npos);
}

TEST(Hostname, AcceptsDnsLabels) {
    for (const char* name : {"web", "db-1", "a", "3tier", "x23456789012345678901234567890123456789012345678901234567890123"})
        EXPECT_EQ(hostname_problem(name), std::nullopt) << name;
}

TEST(Hostname, RefusesWhatIsNotADnsLabel) {
    EXPECT_EQ(hostname_problem(""), "a host name cannot be empty");
    EXPECT_NE(hostname_problem(std::string(64, 'a')).value_or("").find("longer than 63"), std::string::npos);
    EXPECT_NE(hostname_problem("Web").value_or("").find("lowercase"), std::string::npos);
    EXPECT_EQ(hostname_problem("web.lab"), "'web.lab' is not a DNS label: use only a-z, 0-9 and '-' (no '.')");
    EXPECT_NE(hostname_problem("web_1").value_or("").find("(no '_')"), std::string::npos);
    EXPECT_NE(hostname_problem("-web").value_or("").find("starts or ends"), std::string::npos);
    EXPECT_NE(hostname_problem("web-").value_or("").find("starts or ends"), std::string::npos);
    EXPECT_NE(hostname_problem("Ada Lovelace").value_or(""), "");
}

}  // namespace
}  // namespace vmlab
