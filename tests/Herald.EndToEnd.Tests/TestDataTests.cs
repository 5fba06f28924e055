using Herald.EndToEnd.Tests.Infrastructure;
using Herald.Sandbox;

namespace Herald.EndToEnd.Tests;

/// <summary>Random test recipients never pick a sandbox behaviour by accident (a false red in unrelated tests).</summary>
public sealed class TestDataTests
{
    [Fact]
    public void Phone_ManyDraws_NoneIsMagic_AndAllAreE164()
    {
        // About 1 in 1,400 plain draws ended in a magic suffix before: 100,000 draws would see ~70 of them.
        var phones = Enumerable.Range(0, 100_000).Select(_ => TestData.Phone()).ToList();

        Assert.DoesNotContain(phones, MagicRecipients.IsMagicPhone);
        Assert.All(phones, p => Assert.Matches(@"^\+49151\d{8}$", p));
    }

    [Fact]
    public void ChatId_ManyDraws_NoneIsMagic()
    {
        var chatIds = Enumerable.Range(0, 100_000).Select(_ => TestData.ChatId()).ToList();

        Assert.DoesNotContain(chatIds, MagicRecipients.IsMagicChatId);
    }

    [Fact]
    public void Phone_WithMagicSuffix_EndsInIt_AndWithANonMagicSuffixNeverBecomesMagic()
    {
        Assert.All(MagicRecipients.PhoneSuffixes, s => Assert.EndsWith(s, TestData.Phone(s), StringComparison.Ordinal));
        Assert.EndsWith(MagicRecipients.BotBlocked, TestData.ChatId(MagicRecipients.BotBlocked), StringComparison.Ordinal);
        Assert.DoesNotContain(Enumerable.Range(0, 20_000).Select(_ => TestData.Phone("1")), MagicRecipients.IsMagicPhone);
    }

    [Fact]
    public void MagicList_IsTheOneTheSpecDocuments()
    {
        // SPEC §6's table; a new magic number must be added to MagicRecipients (and so avoided by test data).
        Assert.Equal(["0001", "0002", "0003", "0005", "0004", "0051", "0052", "0053"], MagicRecipients.PhoneSuffixes);
        Assert.Equal(["403"], MagicRecipients.ChatIdSuffixes);
    }
}
