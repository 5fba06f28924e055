using Herald.Ingest;

namespace Herald.Server.Customers;

/// <summary>A notification that cannot be accepted because of its customer: it names an unknown one and carries no
/// contact (<see cref="Herald.Core.Planning.PlanError"/>).</summary>
public sealed class CustomerRejectedException(IReadOnlyList<InputError> errors, string title)
    : Exception(title)
{
    public IReadOnlyList<InputError> Errors { get; } = errors;
    public string Title { get; } = title;
}
