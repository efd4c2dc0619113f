using System.CommandLine;
using CatsDogs.Cli.Options;
using CatsDogs.ML.Backbones;
using CatsDogs.ML.Features;
using CatsDogs.ML.Imaging;
using CatsDogs.ML.RabbitMQ;

namespace CatsDogs.Cli.Commands;

/// <summary>
/// <c>catsdogs worker</c>: consume photos from the broker and answer them, until SIGTERM or Ctrl+C, which stop it
/// gracefully (exit code 0 after the photos it holds are answered).
/// </summary>
internal static class WorkerCommand
{
    public static Command Create(Cli cli)
    {
        var model = new Option<string?>("--model") { Description = "Score photos of score jobs with this model (saved by 'train')." };
        var backbones = new Option<string?>("--backbones") { Description = "Instead of --model: compute features of training jobs ('train --broker') for these backbones." };
        var views = new Option<string?>("--views") { Description = "With --backbones: the views, as 'train' was given them (default: train's default)." };
        var concurrency = new Option<int?>("--concurrency") { Description = "Photos answered at once (default: the machine's cores)." };
        var prefetch = new Option<int?>("--prefetch") { Description = "Unacknowledged photos held (default: twice --concurrency)." };
        var allow = new Option<string[]>("--allow")
        {
            Description = "Read photos named by path only inside this folder (repeat for more), whatever a message says; default: the folders each job scattered, except system and hidden ones. Give it when others can publish to the broker.",
            Arity = ArgumentArity.OneOrMore,
        };
        var catalog = CommonOptions.Catalog();
        var modelsDir = CommonOptions.ModelsDir();
        var device = CommonOptions.Device();
        var signKey = CommonOptions.SignKey();
        var command = new Command("worker", "Answer photos from a RabbitMQ broker: score them with --model, or compute training features with --backbones. Run one per machine; they share the work.")
        {
            model, backbones, views, concurrency, prefetch, allow, catalog, modelsDir, device, signKey,
        };
        var brokerOptions = new BrokerCliOptions(required: true).AddTo(command);
        cli.SetAction(command, (parse, token) =>
        {
            var broker = brokerOptions.Build(parse, parse.GetValue(concurrency), parse.GetValue(prefetch)) with { AllowedFolders = parse.GetValue(allow) };
            var modelPath = parse.GetValue(model);
            var names = parse.GetValue(backbones);
            if ((modelPath is null) == (names is null))
            {
                throw new ArgumentException("Give either --model (score jobs) or --backbones (training feature jobs).");
            }

            var log = TextWriter.Synchronized(cli.Error);
            WorkerSummary summary;
            if (modelPath is not null)
            {
                var load = new ML.ModelLoadOptions
                {
                    ModelsDirectory = parse.GetValue(modelsDir),
                    Device = parse.GetRequiredValue(device),
                    SigningKey = CommonOptions.ReadKey(parse.GetValue(signKey)),
                };
                summary = BrokerWorker.ScoreAsync(modelPath, load, broker, log, token).GetAwaiter().GetResult();
            }
            else
            {
                var features = new FeatureOptions
                {
                    Backbones = (parse.GetValue(catalog) is { } file ? BackboneCatalog.Default.WithFile(file) : BackboneCatalog.Default).Resolve(names!),
                    Views = parse.GetValue(views) is { } v ? ImageView.ParseList(v) : ImageView.Defaults,
                    ModelsDirectory = parse.GetValue(modelsDir),
                    Device = parse.GetRequiredValue(device),
                };
                summary = BrokerWorker.FeaturesAsync(features, broker, log, token).GetAwaiter().GetResult();
            }

            cli.WriteJson(summary);
            return 0;
        });
        return command;
    }
}
