using Herald.Testing;

[assembly: AssemblyFixture(typeof(Herald.Storage.Tests.PostgresFixture))]

namespace Herald.Storage.Tests;

/// <summary>One throwaway PostgreSQL server for the whole test assembly; tests create their own databases on it.</summary>
public sealed class PostgresFixture : PostgresServer, IAsyncLifetime;
