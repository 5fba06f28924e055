using Herald.Core.Notifications;
using PhoneNumbers;

namespace Herald.Core.Providers;

/// <summary>What one message to one destination costs on one account, by its <see cref="PriceTable"/>.</summary>
public static class Pricing
{
    private static readonly PhoneNumberUtil Phones = PhoneNumberUtil.GetInstance();

    /// <summary>
    /// The ISO 3166-1 alpha-2 country of a phone address (E.164) for the channels addressed by phone (SMS,
    /// WhatsApp); null for other channels and for numbers libphonenumber cannot place (the price table's default
    /// then applies).
    /// </summary>
    public static string? DestinationCountry(Channel channel, string to)
    {
        if (channel is not (Channel.Sms or Channel.WhatsApp) || to.Length < 2)
        {
            return null;
        }

        try
        {
            var number = Phones.Parse(to[0] == '+' ? to : "+" + to, null);
            // A number libphonenumber cannot validate (new ranges, test numbers) is priced by its country code's main
            // country: +1 as US, +44 as GB, +7 as RU.
            var region = Phones.GetRegionCodeForNumber(number) ?? Phones.GetRegionCodeForCountryCode(number.CountryCode);
            return region is null or "ZZ" or "001" ? null : region;
        }
        catch (NumberParseException)
        {
            return null;
        }
    }

    /// <summary>How many messages the provider bills for one SMS text: 1 for other channels.</summary>
    public static int BilledParts(Channel channel, string text) => channel == Channel.Sms ? SmsSegments.Count(text) : 1;

    /// <summary>The account's price for an SMS destination (E.164, "+" optional) × the parts the provider took or
    /// reported; null without a price.</summary>
    public static decimal? SmsCost(ProviderAccount account, string to, int parts) =>
        account.Prices?.PriceFor(DestinationCountry(Channel.Sms, to)) is { } price ? price * parts : null;

    /// <summary>The price-table cost of one send (price × billed parts), or null when the account has no price for it.</summary>
    public static decimal? Cost(ProviderAccount account, Channel channel, string? country, string text) =>
        account.Prices?.PriceFor(country) is { } price ? price * BilledParts(channel, text) : null;
}

/// <summary>
/// SMS segmentation as carriers bill it: GSM 03.38 text (extension characters count twice) takes 160 septets in one
/// part or 153 per part when concatenated; anything else is UCS-2, 70 characters in one part or 67 per part
/// (a character outside the BMP takes two).
/// </summary>
public static class SmsSegments
{
    private const string Basic =
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

    private const string Extension = "^{}\\[~]|€\f";

    public static int Count(string text)
    {
        if (text.Length == 0)
        {
            return 1;
        }

        var septets = 0;
        var gsm = true;
        foreach (var c in text)
        {
            if (Basic.Contains(c, StringComparison.Ordinal))
            {
                septets++;
            }
            else if (Extension.Contains(c, StringComparison.Ordinal))
            {
                septets += 2;
            }
            else
            {
                gsm = false;
                break;
            }
        }

        if (gsm)
        {
            return septets <= 160 ? 1 : (septets + 152) / 153;
        }

        // UTF-16 code units are what UCS-2 encoding bills (a surrogate pair takes two).
        return text.Length <= 70 ? 1 : (text.Length + 66) / 67;
    }
}
