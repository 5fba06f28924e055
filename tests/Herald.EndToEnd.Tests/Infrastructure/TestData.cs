using System.Security.Cryptography;
using Herald.Sandbox;

namespace Herald.EndToEnd.Tests.Infrastructure;

public static class TestData
{
    /// <summary>A fresh valid German mobile number, optionally ending in a sandbox magic suffix (SPEC §6). Without a
    /// magic <paramref name="suffix"/> it never ends in one by accident (the sandbox's own list decides).</summary>
    public static string Phone(string suffix = "")
    {
        while (true)
        {
            var digits = 8 - suffix.Length;
            var random = RandomNumberGenerator.GetInt32(1, (int)Math.Pow(10, digits)).ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(digits, '1');
            var phone = "+49151" + random + suffix;
            if (!MagicRecipients.IsMagicPhone(phone) || MagicRecipients.IsMagicPhone(suffix))
            {
                return phone;
            }
        }
    }

    /// <summary>A fresh Telegram chat id, optionally ending in a magic suffix; never one by accident.</summary>
    public static string ChatId(string suffix = "")
    {
        while (true)
        {
            var chatId = RandomNumberGenerator.GetInt32(100_000, 999_999).ToString(System.Globalization.CultureInfo.InvariantCulture) + suffix;
            if (!MagicRecipients.IsMagicChatId(chatId) || MagicRecipients.IsMagicChatId(suffix))
            {
                return chatId;
            }
        }
    }

    /// <summary>
    /// How long the cluster tests wait for a change made on one node to show on another. Generous for a loaded 2-core
    /// machine, and still far shorter than every fallback those tests configure (safety polls of an hour, cache TTLs
    /// and refresh intervals of ten minutes), so only the change fan-out can explain a pass. The tests print the
    /// measured time; the figures are in docs (RULES.md, CUSTOMERS.md).
    /// </summary>
    public static readonly TimeSpan PropagationDeadline = TimeSpan.FromSeconds(60);

    /// <summary>Waits for a condition with a deadline; no fixed sleeps.</summary>
    public static async Task<T> EventuallyAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan within, string what)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        T last;
        do
        {
            last = await probe();
            if (done(last))
            {
                return last;
            }

            await Task.Delay(50);
        }
        while (clock.Elapsed < within);

        Assert.Fail($"Timed out waiting for {what}; last value: {last}");
        return last;
    }
}
