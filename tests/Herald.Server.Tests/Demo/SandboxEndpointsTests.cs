using System.Text.Json.Nodes;
using Herald.Server.Demo;

namespace Herald.Server.Tests.Demo;

/// <summary>Issue #19: the embedded demo's stored sandbox accounts follow the ports of the run that reads them.</summary>
public sealed class SandboxEndpointsTests
{
    private static readonly SandboxEndpoints.Endpoints Before = new("http://localhost:5000", 2525, 2775);
    private static readonly SandboxEndpoints.Endpoints Now = new("http://127.0.0.1:41000", 41001, 41002);

    [Fact]
    public void SmppAccount_OnTheEarlierPort_MovesToThisRunsPort()
    {
        var moved = SandboxEndpoints.Repoint("""{"host":"127.0.0.1","port":2775,"systemId":"t","password":"sandbox"}""", Before, Now);

        Assert.Equal(41002, JsonNode.Parse(moved!)!["port"]!.GetValue<int>());
        Assert.Equal("sandbox", JsonNode.Parse(moved!)!["password"]!.GetValue<string>());
    }

    [Fact]
    public void UrlsUnderTheEarlierBase_IncludingOnesInACredentialHeldAsJsonText_Move()
    {
        var serviceAccount = new JsonObject { ["token_uri"] = "http://localhost:5000/sandbox/fcm/token", ["private_key"] = "-----BEGIN-----\nx\n" }.ToJsonString();
        var settings = new JsonObject
        {
            ["baseUrl"] = "http://localhost:5000/sandbox/sms",
            ["statusCallbackUrl"] = "http://localhost:5000/callbacks/sms/{providerId}",
            ["serviceAccount"] = serviceAccount,
            // Another port that merely starts the same way is not this base.
            ["other"] = "http://localhost:50001/x",
        }.ToJsonString();

        var moved = JsonNode.Parse(SandboxEndpoints.Repoint(settings, Before, Now)!)!;

        Assert.Equal("http://127.0.0.1:41000/sandbox/sms", moved["baseUrl"]!.GetValue<string>());
        Assert.Equal("http://127.0.0.1:41000/callbacks/sms/{providerId}", moved["statusCallbackUrl"]!.GetValue<string>());
        Assert.Equal("http://127.0.0.1:41000/sandbox/fcm/token", JsonNode.Parse(moved["serviceAccount"]!.GetValue<string>())!["token_uri"]!.GetValue<string>());
        Assert.Equal("http://localhost:50001/x", moved["other"]!.GetValue<string>());
    }

    [Fact]
    public void AnAccountElsewhere_IsLeftAsItIs()
    {
        Assert.Null(SandboxEndpoints.Repoint("""{"host":"smtp.bank.example","port":2525,"baseUrl":"https://api.vendor.example/v1"}""", Before, Now));
    }
}
