using Herald.Core.Templates;

namespace Herald.Storage;

/// <summary>Message templates, unique per tenant by name, channel and language (null language = the default). Every
/// stored change is announced on the <see cref="IChangeFeed"/> as <see cref="ChangeKinds.Templates"/>.</summary>
public interface ITemplateStore
{
    /// <summary>Inserts the template or replaces the one with the same name, channel and language: the id and
    /// creation time stay, the version goes up by one. <see cref="MessageTemplate.Id"/>, version and times passed in
    /// are ignored. Returns the stored template and whether it was new.</summary>
    Task<(MessageTemplate Template, bool Created)> SaveAsync(MessageTemplate template, CancellationToken ct);

    Task<MessageTemplate?> GetAsync(Guid tenantId, Guid id, CancellationToken ct);

    /// <summary>The tenant's templates ordered by name, channel, language (default first).</summary>
    Task<IReadOnlyList<MessageTemplate>> ListAsync(Guid tenantId, CancellationToken ct);

    Task<bool> DeleteAsync(Guid tenantId, Guid id, CancellationToken ct);
}
