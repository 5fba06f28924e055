using Herald.Storage;

namespace Herald.Server.Tests.Changes;

/// <summary>The wire form of a change, <c>kind:tenant:key</c>: what one node sends is what the others parse, and
/// anything else on the channel (a foreign or malformed message) is ignored.</summary>
public sealed class ChangeTests
{
    [Theory]
    [InlineData(ChangeKinds.Customer, "c-1")]
    [InlineData(ChangeKinds.Customer, "id:with:colons")]
    [InlineData(ChangeKinds.Templates, "*")]
    [InlineData(ChangeKinds.Rules, "42")]
    public void Message_RoundTrips(string kind, string key)
    {
        var change = new Change(kind, Guid.CreateVersion7(), key);

        Assert.Equal(change, Change.FromMessage(change.Message));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("customer")]
    [InlineData(":0190b6c4-0000-7000-8000-000000000000:c-1")]
    [InlineData("customer:not-a-tenant-id-of-36-characters-x:c-1")]
    [InlineData("customer:0190b6c4-0000-7000-8000-000000000000")]
    public void FromMessage_Malformed_IsIgnored(string? message) => Assert.Null(Change.FromMessage(message));

    [Fact]
    public void Message_KeyTooLongOrKindWithColon_IsRefused()
    {
        Assert.False(Change.Fits(new string('k', Change.MaxKeyLength + 1)));
        Assert.Throws<ArgumentException>(() => new Change(ChangeKinds.Customer, Guid.Empty, new string('k', Change.MaxKeyLength + 1)).Message);
        Assert.Throws<ArgumentException>(() => new Change("a:b", Guid.Empty, "k").Message);
    }
}
