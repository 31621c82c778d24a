import * as React from 'react';

import { pathParts } from './format';

/** A path that wraps at its separators (`<wbr>` after each), never in a folder's name. */
export function PathText(props: {
  path: string;
  className?: string;
}): JSX.Element {
  return (
    <code className={'pexlab-Path ' + (props.className ?? '')}>
      {pathParts(props.path).map((part, i) => (
        <React.Fragment key={i}>
          {part}
          <wbr />
        </React.Fragment>
      ))}
    </code>
  );
}
