import * as React from 'react';

import { pathParts } from './format';

/**
 * A path that wraps at its separators (`<wbr>` after each), never inside a folder's name
 * (each name is one unbreakable run: browsers would otherwise break after a hyphen).
 */
export function PathText(props: {
  path: string;
  className?: string;
}): JSX.Element {
  return (
    <code className={'pexlab-Path ' + (props.className ?? '')}>
      {pathParts(props.path).map((part, i) => (
        <React.Fragment key={i}>
          <span className="pexlab-Path-part">{part}</span>
          <wbr />
        </React.Fragment>
      ))}
    </code>
  );
}
