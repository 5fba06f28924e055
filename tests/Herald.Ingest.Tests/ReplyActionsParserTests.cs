using System.Text;
using Herald.Core.Notifications;
using Herald.Ingest.Native;

namespace Herald.Ingest.Tests;

/// <summary>Reply choices on POST /v1/notifications (issue #16): what is taken, and every refusal located.</summary>
public sealed class ReplyActionsParserTests
{
    private static readonly Guid Tenant = Guid.NewGuid();

    private static (NewNotification? Notification, IReadOnlyList<InputError> Errors) Parse(string extra) =>
        NotificationParser.Parse(Encoding.UTF8.GetBytes("""{"type":"fraud.alert","customer":{"phone":"+4915112345678"}""" + extra + "}"), Tenant, null, null);

    [Fact]
    public void Parse_ActionsAndReplyTtl_AreTaken()
    {
        var (n, errors) = Parse(""","actions":[{"id":"confirm","title":"Yes, it was me"},{"id":"block","title":"No, block my card"}],"replyTtl":"2h" """);

        Assert.Empty(errors);
        Assert.Equal([new NotificationAction("confirm", "Yes, it was me"), new NotificationAction("block", "No, block my card")], n!.Actions);
        Assert.Equal(TimeSpan.FromHours(2), n.ReplyTtl);
        Assert.Equal(new DateTimeOffset(2030, 1, 1, 2, 0, 0, TimeSpan.Zero), n.ReplyUntil(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero)));
    }

    [Fact]
    public void Parse_ActionsWithoutTtl_DefaultTtlIs24Hours()
    {
        var (n, errors) = Parse(""","actions":[{"id":"ok","title":"OK"}]""");

        Assert.Empty(errors);
        Assert.Null(n!.ReplyTtl);
        var t0 = new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);
        Assert.Equal(t0.AddHours(24), n.ReplyUntil(t0));
    }

    [Fact]
    public void Parse_NoActions_AsksNothing()
    {
        var (n, errors) = Parse("");

        Assert.Empty(errors);
        Assert.Empty(n!.Actions);
        Assert.Null(n.ReplyUntil(DateTimeOffset.UnixEpoch));
    }

    [Theory]
    [InlineData("""[{"id":"a","title":"A"},{"id":"b","title":"B"},{"id":"c","title":"C"},{"id":"d","title":"D"}]""", "/actions")]
    [InlineData("""[{"id":"a","title":"A"},{"id":"a","title":"B"}]""", "/actions/1/id")]
    [InlineData("""[{"id":"Confirm","title":"A"}]""", "/actions/0/id")]
    [InlineData("""[{"id":"this-id-is-far-longer-than-32-chars","title":"A"}]""", "/actions/0/id")]
    [InlineData("""[{"id":"a b","title":"A"}]""", "/actions/0/id")]
    [InlineData("""[{"title":"A"}]""", "/actions/0/id")]
    [InlineData("""[{"id":"a"}]""", "/actions/0/title")]
    [InlineData("""[{"id":"a","title":" "}]""", "/actions/0/title")]
    [InlineData("""[{"id":"a","title":"two\nlines"}]""", "/actions/0/title")]
    [InlineData("""[null]""", "/actions/0")]
    [InlineData("""[]""", "/actions")]
    public void Parse_BadActions_AreRefusedWithLocatedErrors(string actions, string pointer)
    {
        var (n, errors) = Parse(""","actions":""" + actions);

        Assert.Null(n);
        Assert.Contains(errors, e => e.Pointer == pointer);
    }

    [Theory]
    [InlineData("30s")]
    [InlineData("8d")]
    [InlineData("soon")]
    [InlineData("")]
    public void Parse_ReplyTtlOutOfBounds_IsRefused(string ttl)
    {
        var (n, errors) = Parse(""","actions":[{"id":"ok","title":"OK"}],"replyTtl":" """.TrimEnd() + ttl + "\"");

        Assert.Null(n);
        Assert.Equal("/replyTtl", Assert.Single(errors).Pointer);
    }

    [Fact]
    public void Parse_ReplyTtlWithoutActions_IsRefused()
    {
        var (n, errors) = Parse(""","replyTtl":"1h" """);

        Assert.Null(n);
        Assert.Equal("/replyTtl", Assert.Single(errors).Pointer);
    }

    [Fact]
    public void Parse_ActionsInBatchItem_ErrorsCarryTheItemPrefix()
    {
        var (n, errors) = NotificationParser.ParseItem(
            """{"type":"x","customer":{"phone":"+4915112345678"},"actions":[{"id":"a","title":"A"},{"id":"a","title":"B"}]}"""u8, Tenant, null, "/items/3");

        Assert.Null(n);
        Assert.Equal("/items/3/actions/1/id", Assert.Single(errors).Pointer);
    }

    [Fact]
    public void Fingerprint_DiffersByActions_AndIsUnchangedWithoutThem()
    {
        var (plain, _) = Parse(""","externalId":"e1" """);
        var (asking, _) = Parse(""","externalId":"e1","actions":[{"id":"ok","title":"OK"}]""");

        Assert.NotEqual(RequestFingerprint.Of(plain!), RequestFingerprint.Of(asking!));
        Assert.Equal(RequestFingerprint.Of(plain!), RequestFingerprint.Of(plain! with { }));
    }
}
