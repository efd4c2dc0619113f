using System.Text.Json;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace CatsDogs.Web;

/// <summary><c>/health/ready</c>: healthy once the model is loaded (it is loaded at start), with its backbone count.</summary>
public sealed class ModelHealthCheck(Scorer scorer) : IHealthCheck
{
    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(HealthCheckResult.Healthy("model loaded", new Dictionary<string, object> { ["backbones"] = scorer.Classifier.Backbones.Count }));

    /// <summary>Writes <c>{"status": "ready", "backbones": N}</c> (or the failing status) as JSON.</summary>
    public static Task WriteAsync(HttpContext context, HealthReport report)
    {
        var model = report.Entries.TryGetValue("model", out var entry) ? entry : default;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(JsonSerializer.Serialize(new
        {
            status = report.Status == HealthStatus.Healthy ? "ready" : report.Status.ToString().ToLowerInvariant(),
            backbones = model.Data?.GetValueOrDefault("backbones"),
        }));
    }
}
