using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Herald.EndToEnd.Tests.Console;
using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Server.Hosting;

namespace Herald.EndToEnd.Tests;

/// <summary>
/// The OpenAPI document is the console's contract and every bank's (issue #19): served by a real host, it names its
/// security per operation as the endpoint's authorization really asks, gives every operation a summary, an operation
/// id and tags, declares problem+json answers with the one Problem schema, keeps the sandbox's vendor paths in a
/// document of their own, and passes <c>@redocly/cli lint</c> with the recommended rules (web/console/redocly-lint.yaml).
/// </summary>
public sealed class OpenApiDocumentTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly string[] Methods = ["get", "put", "post", "delete", "patch", "head", "options", "trace"];

    private readonly TempFolder _folder = new();
    private HeraldHost _host = null!;

    public async ValueTask InitializeAsync() =>
        _host = await HeraldHost.StartAsync(HeraldRole.All, HeraldHost.SqliteSettings(_folder.Path));

    public async ValueTask DisposeAsync()
    {
        await _host.DisposeAsync();
        _folder.Dispose();
    }

    [Fact]
    public async Task ProductDocument_DeclaresInfoSecuritySummariesAndProblems()
    {
        using var client = _host.Client();
        var document = JsonNode.Parse(await client.GetStringAsync("/openapi/v1.json"))!.AsObject();

        Assert.Equal("Herald API", document["info"]!.Str("title"));
        Assert.False(string.IsNullOrWhiteSpace(document["info"]!.Str("description")));
        Assert.NotEmpty(document["servers"]!.AsArray());
        var schemes = document["components"]!["securitySchemes"]!;
        Assert.Equal("http", schemes["apiKey"]!.Str("type"));
        Assert.Equal("bearer", schemes["apiKey"]!.Str("scheme"));
        Assert.Equal("cookie", schemes["consoleSession"]!.Str("in"));
        Assert.Equal("herald_console", schemes["consoleSession"]!.Str("name"));
        var problem = document["components"]!["schemas"]!["Problem"]!;
        // Herald writes numbers as numbers: not "integer or a string of digits" (what the reader also accepts).
        Assert.Equal("integer", problem["properties"]!["status"]!["type"]!.GetValue<string>());
        var error = problem["properties"]!["errors"]!["items"]!;
        var errorProperties = (error["properties"] ?? ResolveRef(document, error)["properties"])!.AsObject();
        Assert.True(errorProperties.ContainsKey("pointer") && errorProperties.ContainsKey("detail"), "Problem.errors[] has no {pointer, detail}.");

        var operationIds = new HashSet<string>(StringComparer.Ordinal);
        var failures = new List<string>();
        foreach (var (path, method, operation) in Operations(document))
        {
            var name = $"{method.ToUpperInvariant()} {path}";
            if (path.StartsWith("/sandbox", StringComparison.Ordinal) || path.StartsWith("/bot", StringComparison.Ordinal))
            {
                failures.Add($"{name}: a sandbox path in the product document");
            }

            if (string.IsNullOrWhiteSpace(Text(operation, "summary")))
            {
                failures.Add($"{name}: no summary");
            }

            if (Text(operation, "operationId") is not { Length: > 0 } id || !operationIds.Add(id))
            {
                failures.Add($"{name}: no operationId, or one used twice");
            }

            if (operation["tags"] is not JsonArray { Count: > 0 })
            {
                failures.Add($"{name}: no tags");
            }

            if (operation["security"] is not JsonArray security)
            {
                failures.Add($"{name}: no security declared (anonymous operations declare an empty list)");
                continue;
            }

            var responses = operation["responses"]!.AsObject();
            var anonymous = security.Count == 0;
            if (!anonymous && (!responses.ContainsKey("401") || !responses.ContainsKey("403")))
            {
                failures.Add($"{name}: needs a key but declares no 401 and 403");
            }

            foreach (var (status, response) in responses)
            {
                if (status.StartsWith('4') && response!["content"]?[Herald.Server.Problems.ContentType]?["schema"] is null)
                {
                    // The batch's 400 is its per-item result as JSON, and a problem too (a malformed batch).
                    failures.Add($"{name}: {status} is not application/problem+json");
                }
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.True(operationIds.Count > 60, $"Only {operationIds.Count} operations in the document.");
        // Per policy: anonymous where no key is asked, the admin key only for system operations, key or session otherwise.
        Assert.Empty(Operation(document, "/callbacks/{kind}/{accountId}", "post")["security"]!.AsArray());
        Assert.Empty(Operation(document, "/console/session", "post")["security"]!.AsArray());
        Assert.Empty(Operation(document, "/healthz", "get")["security"]!.AsArray());
        Assert.Equal(["apiKey"], SchemeNames(Operation(document, "/v1/admin/tenants", "post")));
        Assert.Equal(["apiKey", "consoleSession"], SchemeNames(Operation(document, "/v1/notifications", "post")));
        Assert.Equal(["consoleSession"], SchemeNames(Operation(document, "/console/session", "get")));
        // An endpoint's own problem subtype is kept: the rule set's errors name the rule and position.
        Assert.Equal("#/components/schemas/RuleProblem",
            Operation(document, "/v1/rules", "put")["responses"]!["422"]!["content"]![Herald.Server.Problems.ContentType]!["schema"]!.Str("$ref"));
    }

    /// <summary>What the document says about keys is what the endpoints do: every operation it says needs one answers
    /// 401 problem+json without one, and 403 to a key without the role when it names a tenant policy narrower than read.</summary>
    [Fact]
    public async Task EveryOperationDeclaredWithAKey_Answers401WithoutOne()
    {
        using var anonymous = _host.Client();
        var document = JsonNode.Parse(await anonymous.GetStringAsync("/openapi/v1.json"))!.AsObject();
        var failures = new List<string>();
        var checkedCount = 0;
        foreach (var (path, method, operation) in Operations(document))
        {
            if (operation["security"]!.AsArray().Count == 0)
            {
                continue;
            }

            // Any value of the parameter's type: authentication comes before the handler looks anything up.
            var url = System.Text.RegularExpressions.Regex.Replace(path, "{[^}]+}", m => m.Value == "{version}" ? "1" : Guid.NewGuid().ToString());
            using var request = new HttpRequestMessage(new HttpMethod(method.ToUpperInvariant()), url);
            if (method is "post" or "put" or "patch")
            {
                request.Content = JsonContent.Create(new { });
            }

            using var response = await anonymous.SendAsync(request, TestContext.Current.CancellationToken);
            checkedCount++;
            if (response.StatusCode != HttpStatusCode.Unauthorized || response.Content.Headers.ContentType?.MediaType != Herald.Server.Problems.ContentType)
            {
                failures.Add($"{method.ToUpperInvariant()} {url}: {(int)response.StatusCode} {response.Content.Headers.ContentType?.MediaType}");
            }
        }

        Assert.True(failures.Count == 0, "Declared as needing a key, but answered without one:\n" + string.Join("\n", failures));
        Assert.True(checkedCount > 50, $"Only {checkedCount} operations checked.");
    }

    [Fact]
    public async Task SandboxDocument_HoldsTheVendorPaths_ApartFromTheProduct()
    {
        using var client = _host.Client();
        var sandbox = JsonNode.Parse(await client.GetStringAsync("/openapi/sandbox.json"))!.AsObject();
        var paths = sandbox["paths"]!.AsObject().Select(p => p.Key).ToList();

        Assert.Contains("/sandbox/whatsapp/{version}/{phoneNumberId}/messages", paths);
        Assert.Contains("/sandbox/sms/2010-04-01/Accounts/{accountSid}/Messages.json", paths);
        Assert.Contains("/sandbox/telegram/bot{token}/{method}", paths);
        Assert.Contains("/sandbox/messages", paths);
        Assert.All(paths, p => Assert.True(p.StartsWith("/sandbox/", StringComparison.Ordinal) || p.StartsWith("/bot", StringComparison.Ordinal), p));
        Assert.NotEqual("Herald API", sandbox["info"]!.Str("title"));
        // The control endpoints take the sandbox's control key; the vendor paths no Herald key.
        Assert.Equal(["sandboxControlKey"], SchemeNames(Operation(sandbox, "/sandbox/messages", "get")));
        Assert.Empty(Operation(sandbox, "/sandbox/whatsapp/{version}/{phoneNumberId}/messages", "post")["security"]!.AsArray());
    }

    /// <summary>
    /// <c>redocly lint</c> with the recommended rules (web/console/redocly-lint.yaml) on the document a real host serves:
    /// any error fails the test command; warnings are printed. The CLI is web/console's devDependency, installed by the
    /// Server's build (npm ci); its telemetry is off (config and environment), so it reaches nothing.
    /// </summary>
    [Fact]
    public async Task RedoclyLint_RecommendedRules_NoErrors()
    {
        using var client = _host.Client();
        var file = Path.Combine(_folder.Path, "openapi.json");
        await File.WriteAllTextAsync(file, await client.GetStringAsync("/openapi/v1.json"), TestContext.Current.CancellationToken);
        var console = Path.Combine(ConsoleOpenApiTests.RepositoryRoot(), "web", "console");
        var cli = Path.Combine(console, "node_modules", "@redocly", "cli", "bin", "cli.js");
        Assert.True(File.Exists(cli), $"{cli} is missing: build src/Herald.Server (its console build runs npm ci in web/console).");

        // @redocly/cli 2 needs Node.js >= 20.19; Debian 12's nodejs (which scripts/test.sh installs on a machine without
        // one) is 18. There the same lint engine and rules run through @redocly/openapi-core (scripts/lint-openapi.mjs).
        var (_, version) = await RunAsync(console, "node", "--version");
        var (code, text) = Version.TryParse(version.Trim().TrimStart('v'), out var node) && node >= new Version(20, 19)
            ? await RunAsync(console, "node", cli, "lint", file, "--config", "redocly-lint.yaml", "--format", "stylish")
            : await RunAsync(console, "node", Path.Combine("scripts", "lint-openapi.mjs"), file, "redocly-lint.yaml");
        output.WriteLine($"node {version.Trim()}");
        output.WriteLine(text);

        Assert.True(code == 0, $"redocly lint found errors in /openapi/v1.json (exit {code}):\n{text}");
    }

    private static async Task<(int Code, string Output)> RunAsync(string directory, string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = directory,
        };
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        psi.Environment["REDOCLY_TELEMETRY"] = "off";
        psi.Environment["REDOCLY_SUPPRESS_UPDATE_NOTICE"] = "true";
        psi.Environment["NO_COLOR"] = "1";
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        return (process.ExitCode, await stdout + await stderr);
    }

    private static IEnumerable<(string Path, string Method, JsonObject Operation)> Operations(JsonObject document)
    {
        foreach (var (path, item) in document["paths"]!.AsObject())
        {
            foreach (var (method, operation) in item!.AsObject())
            {
                if (Methods.Contains(method))
                {
                    yield return (path, method, operation!.AsObject());
                }
            }
        }
    }

    private static JsonObject Operation(JsonObject document, string path, string method) =>
        document["paths"]![path]![method]!.AsObject();

    private static string[] SchemeNames(JsonObject operation) =>
        [.. operation["security"]!.AsArray().SelectMany(r => r!.AsObject().Select(s => s.Key)).Order(StringComparer.Ordinal)];

    private static string? Text(JsonNode? node, string property) => node?[property]?.GetValue<string>();

    private static JsonNode ResolveRef(JsonObject document, JsonNode node) =>
        document["components"]!["schemas"]![Text(node, "$ref")!.Split('/').Last()]!;
}
