using System.Security.Cryptography;
using Herald.Storage.Secrets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Storage.Tests.Secrets;

public sealed class SecretProtectorTests
{
    private static readonly byte[] KeyA = RandomNumberGenerator.GetBytes(32);
    private static readonly byte[] KeyB = RandomNumberGenerator.GetBytes(32);

    [Fact]
    public void Protect_ThenUnprotect_RoundTripsAndHidesThePlaintext()
    {
        var protector = new AesGcmSecretProtector([KeyA]);

        var sealedValue = protector.Protect("s3cr3t-token", "provider:1");

        Assert.True(protector.IsProtected(sealedValue));
        Assert.DoesNotContain("s3cr3t", sealedValue, StringComparison.Ordinal);
        Assert.NotEqual(sealedValue, protector.Protect("s3cr3t-token", "provider:1"));
        Assert.Equal("s3cr3t-token", protector.Unprotect(sealedValue, "provider:1"));
    }

    [Fact]
    public void Unprotect_OtherContext_Fails()
    {
        var protector = new AesGcmSecretProtector([KeyA]);

        var sealedValue = protector.Protect("x", "provider:1");

        Assert.ThrowsAny<CryptographicException>(() => protector.Unprotect(sealedValue, "provider:2"));
    }

    [Fact]
    public void Unprotect_TamperedOrForeign_Fails()
    {
        var protector = new AesGcmSecretProtector([KeyA]);
        var sealedValue = protector.Protect("hello", "c");
        var bytes = Convert.FromBase64String(sealedValue[(sealedValue.LastIndexOf(':') + 1)..]);
        bytes[^1] ^= 1;
        var tampered = sealedValue[..(sealedValue.LastIndexOf(':') + 1)] + Convert.ToBase64String(bytes);

        Assert.ThrowsAny<CryptographicException>(() => protector.Unprotect(tampered, "c"));
        Assert.ThrowsAny<CryptographicException>(() => protector.Unprotect("plain text", "c"));
        Assert.ThrowsAny<CryptographicException>(() => protector.Unprotect("enc:v1:deadbeef:AAAA", "c"));
        Assert.ThrowsAny<CryptographicException>(() => new AesGcmSecretProtector([KeyB]).Unprotect(sealedValue, "c"));
    }

    [Fact]
    public void RotatedKeys_NewKeyEncryptsOldKeyStillDecrypts()
    {
        var old = new AesGcmSecretProtector([KeyA]).Protect("v", "c");
        var rotated = new AesGcmSecretProtector([KeyB, KeyA]);

        Assert.Equal("v", rotated.Unprotect(old, "c"));
        Assert.ThrowsAny<CryptographicException>(() => new AesGcmSecretProtector([KeyA]).Unprotect(rotated.Protect("v", "c"), "c"));
    }

    [Fact]
    public void Embedded_WithoutKey_CreatesAKeyFileNextToTheDatabaseAndReusesIt()
    {
        var folder = Directory.CreateTempSubdirectory("herald-secrets-").FullName;
        try
        {
            var configuration = Configuration(new() { ["ConnectionStrings:Sqlite"] = $"Data Source={Path.Combine(folder, "herald.db")}" });

            var first = Resolve(configuration).Protect("v", "c");

            var keyFile = Path.Combine(folder, "secret-key");
            Assert.True(File.Exists(keyFile));
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
            }

            Assert.Equal("v", Resolve(configuration).Unprotect(first, "c"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void Embedded_ExistingKeyFileReadableByOthers_IsNarrowedToTheOwner()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "Unix file modes");
        var folder = Directory.CreateTempSubdirectory("herald-secrets-").FullName;
        try
        {
            var keyFile = Path.Combine(folder, "keys", "secret-key");
            Directory.CreateDirectory(Path.GetDirectoryName(keyFile)!);
            File.WriteAllText(keyFile, Convert.ToBase64String(KeyA));
            File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            var configuration = Configuration(new()
            {
                ["ConnectionStrings:Sqlite"] = $"Data Source={Path.Combine(folder, "herald.db")}",
                ["Herald:Secrets:KeyFile"] = keyFile,
            });

            Resolve(configuration);

            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void KeyFileBesideDatabase_OnlyWhenTheEmbeddedKeyFileSitsInTheDatabaseFolder()
    {
        var folder = Path.Combine(Path.GetTempPath(), "herald-beside-" + Guid.NewGuid().ToString("N"));
        var sqlite = new Dictionary<string, string?> { ["ConnectionStrings:Sqlite"] = $"Data Source={Path.Combine(folder, "data", "herald.db")}" };

        var beside = SecretsServiceCollectionExtensions.KeyFileBesideDatabase(Configuration(sqlite));
        var apart = SecretsServiceCollectionExtensions.KeyFileBesideDatabase(Configuration(new(sqlite) { ["Herald:Secrets:KeyFile"] = Path.Combine(folder, "keys", "secret-key") }));
        var explicitKey = SecretsServiceCollectionExtensions.KeyFileBesideDatabase(Configuration(new(sqlite) { ["Herald:Secrets:Key"] = Convert.ToBase64String(KeyA) }));
        var postgres = SecretsServiceCollectionExtensions.KeyFileBesideDatabase(Configuration(new() { ["Herald:Storage"] = "postgres" }));

        Assert.Equal((Path.Combine(folder, "data", "secret-key"), Path.Combine(folder, "data")), beside);
        Assert.Null(apart);
        Assert.Null(explicitKey);
        Assert.Null(postgres);
    }

    [Fact]
    public void Postgres_WithoutKey_RefusesWithAClearMessage()
    {
        var e = Assert.Throws<SecretsConfigurationException>(() => Resolve(Configuration(new() { ["Herald:Storage"] = "postgres" })));

        Assert.Contains("Herald:Secrets:Key is not set", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ConfiguredKeyAndPreviousKeys_AreUsed()
    {
        var old = new AesGcmSecretProtector([KeyA]).Protect("v", "c");
        var configuration = Configuration(new()
        {
            ["Herald:Storage"] = "postgres",
            ["Herald:Secrets:Key"] = Convert.ToBase64String(KeyB),
            ["Herald:Secrets:PreviousKeys:0"] = Convert.ToBase64String(KeyA),
        });

        Assert.Equal("v", Resolve(configuration).Unprotect(old, "c"));
    }

    private static IConfiguration Configuration(Dictionary<string, string?> values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values).Build();

    private static ISecretProtector Resolve(IConfiguration configuration) =>
        new ServiceCollection().AddHeraldSecrets(configuration).BuildServiceProvider().GetRequiredService<ISecretProtector>();
}
