using System.Text.Json;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;

namespace Herald.EndToEnd.Tests.Console;

/// <summary>
/// The console's API client is typed from a committed copy of Herald's OpenAPI document
/// (web/console/openapi/v1.json, turned into TypeScript by openapi-typescript at build time). This test keeps the copy
/// current: an endpoint changed without the copy fails here, with the command that updates it.
/// </summary>
public sealed class ConsoleOpenApiTests
{
    /// <summary>Set to 1 to write the served document over the committed copy instead of comparing.</summary>
    public const string UpdateVariable = "HERALD_UPDATE_OPENAPI";

    [Fact]
    public async Task CommittedOpenApiCopy_MatchesTheServedDocument()
    {
        using var folder = new TempFolder();
        await using var host = await HeraldHost.StartAsync(HeraldRole.All, HeraldHost.SqliteSettings(folder.Path));
        using var client = host.Client();
        var served = Normalize(await client.GetStringAsync("/openapi/v1.json"));
        var path = Path.Combine(RepositoryRoot(), "web", "console", "openapi", "v1.json");
        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1")
        {
            await File.WriteAllTextAsync(path, served);
        }

        var committed = File.Exists(path) ? Normalize(await File.ReadAllTextAsync(path)) : "(missing)";
        Assert.True(committed == served,
            $"web/console/openapi/v1.json is not the document Herald serves. Update it: cd tests/Herald.EndToEnd.Tests && {UpdateVariable}=1 dotnet run -c Release -- -class \"*ConsoleOpenApiTests\"");
    }

    /// <summary>The document without what differs per host (its server URLs), indented, with a final newline.</summary>
    private static string Normalize(string json)
    {
        var node = JsonNode.Parse(json)!.AsObject();
        node.Remove("servers");
        return node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Herald.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Herald.slnx not found above " + AppContext.BaseDirectory);
    }
}
