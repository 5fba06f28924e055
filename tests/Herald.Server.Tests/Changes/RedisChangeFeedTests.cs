using System.Security.Cryptography;
using Herald.Core.Customers;
using Herald.Storage;
using Herald.Redis;
using Herald.Storage.Secrets;
using Herald.Storage.Sqlite;
using Herald.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Herald.Server.Tests.Changes;

/// <summary>The throwaway Redis for the change feed's Redis path.</summary>
public sealed class ChangeFeedRedisFixture : RedisServer, IAsyncLifetime;

/// <summary>
/// The change feed's Redis path alone: two nodes that share only Redis (each its own SQLite file, so no PostgreSQL
/// path exists) still hear each other's store writes. With both paths the PostgreSQL NOTIFY, sent inside the writing
/// transaction, usually arrives first; this keeps the Redis path proven on its own.
/// </summary>
public sealed class RedisChangeFeedTests(ChangeFeedRedisFixture redis) : IClassFixture<ChangeFeedRedisFixture>
{
    private static readonly ISecretProtector Protector = new AesGcmSecretProtector([RandomNumberGenerator.GetBytes(32)]);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task StoreWrite_HeardOnAnotherNodeOverRedis()
    {
        var root = Path.Combine(Path.GetTempPath(), "herald-feed-redis-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using var a = await SqliteNodeAsync(Path.Combine(root, "a.db"));
            await using var b = await SqliteNodeAsync(Path.Combine(root, "b.db"));
            var heardOnB = new RecordingSubscriber(ChangeKinds.Customer);
            var feedB = b.GetRequiredService<IChangeFeed>();
            feedB.Subscribe(heardOnB);
            await feedB.RedisSubscribed.WaitAsync(TimeSpan.FromSeconds(30), Ct);
            Assert.True(await a.GetRequiredService<RedisConnection>().WaitConnectedAsync(TimeSpan.FromSeconds(30), Ct));
            var tenant = await a.GetRequiredService<ITenantStore>().CreateTenantAsync("t", Ct);

            await a.GetRequiredService<ICustomerStore>().UpsertAsync(tenant.Id, new Customer { Id = "c-redis" }, Ct);

            await heardOnB.WaitForAsync("c-redis", ChangeFeed.Redis, Ct);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            if (Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    private async Task<ServiceProvider> SqliteNodeAsync(string file)
    {
        var node = new ServiceCollection()
            .AddSingleton(Protector)
            .AddSingleton(new RedisConnection(redis.ConnectionString, NullLogger<RedisConnection>.Instance))
            .AddSqliteStorage($"Data Source={file}")
            .BuildServiceProvider();
        await node.GetRequiredService<IStorageMigrator>().MigrateAsync(Ct);
        return node;
    }
}
